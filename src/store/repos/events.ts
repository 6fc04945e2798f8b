import type { Kysely, Selectable } from 'kysely';
import type { Actor } from '../../domain/shared/types.ts';
import type { Database, EventsTable } from '../schema.ts';

export interface EventRecord {
  id: string;
  organizationId: string;
  type: string;
  time: string;
  actor: Actor;
  target: { type: string; id: string } | null;
  outcome: 'success' | 'failure';
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  data: Record<string, unknown>;
}

export interface StoredEvent extends EventRecord {
  seq: number;
}

export interface EventFilter {
  startDate?: string | undefined;
  endDate?: string | undefined;
  type?: string | undefined;
  actorId?: string | undefined;
  targetId?: string | undefined;
  outcome?: 'success' | 'failure' | undefined;
  /** Keyset position for newest-first paging: events strictly older than (time, id). */
  before?: { time: string; id: string } | undefined;
  limit: number;
}

export function toStoredEvent(row: Selectable<EventsTable>): StoredEvent {
  return {
    seq: Number(row.seq),
    id: row.id,
    organizationId: row.organization_id,
    type: row.type,
    time: row.time,
    actor: { type: row.actor_type as Actor['type'], id: row.actor_id, display: row.actor_display },
    target: row.target_type && row.target_id ? { type: row.target_type, id: row.target_id } : null,
    outcome: row.outcome,
    ip: row.ip,
    userAgent: row.user_agent,
    requestId: row.request_id,
    data: JSON.parse(row.data) as Record<string, unknown>,
  };
}

function toRow(e: EventRecord) {
  return {
    id: e.id,
    organization_id: e.organizationId,
    type: e.type,
    time: e.time,
    actor_type: e.actor.type,
    actor_id: e.actor.id,
    actor_display: e.actor.display,
    target_type: e.target?.type ?? null,
    target_id: e.target?.id ?? null,
    outcome: e.outcome,
    ip: e.ip,
    user_agent: e.userAgent,
    request_id: e.requestId,
    data: JSON.stringify(e.data),
  };
}

export function createEventsRepo(db: Kysely<Database>) {
  return {
    async append(events: readonly EventRecord[]): Promise<void> {
      // Chunked so a large batch stays under SQLite's bound-parameter limit.
      for (let i = 0; i < events.length; i += 200) {
        const chunk = events.slice(i, i + 200);
        await db.insertInto('events').values(chunk.map(toRow)).execute();
        // The transactional outbox: committed (or rolled back) with the event and the change it describes.
        await db
          .insertInto('event_outbox')
          .values(chunk.map((e) => ({ event_id: e.id })))
          .execute();
      }
    },
    async list(organizationId: string, filter: EventFilter): Promise<StoredEvent[]> {
      let query = db.selectFrom('events').selectAll().where('organization_id', '=', organizationId);
      if (filter.startDate !== undefined) query = query.where('time', '>=', filter.startDate);
      if (filter.endDate !== undefined) query = query.where('time', '<', filter.endDate);
      if (filter.type !== undefined) {
        query = filter.type.endsWith('.*')
          ? query.where('type', 'like', `${filter.type.slice(0, -1)}%`)
          : query.where('type', '=', filter.type);
      }
      if (filter.actorId !== undefined) query = query.where('actor_id', '=', filter.actorId);
      if (filter.targetId !== undefined) query = query.where('target_id', '=', filter.targetId);
      if (filter.outcome !== undefined) query = query.where('outcome', '=', filter.outcome);
      const before = filter.before;
      if (before !== undefined) {
        query = query.where((eb) =>
          eb.or([
            eb('time', '<', before.time),
            eb.and([eb('time', '=', before.time), eb('id', '<', before.id)]),
          ]),
        );
      }
      const rows = await query.orderBy('time', 'desc').orderBy('id', 'desc').limit(filter.limit).execute();
      return rows.map(toStoredEvent);
    },
    /** Events in insertion order after `afterSeq`, all organizations (for sealing). */
    async afterSeq(afterSeq: number, limit: number): Promise<StoredEvent[]> {
      const rows = await db
        .selectFrom('events')
        .selectAll()
        .where('seq', '>', afterSeq)
        .orderBy('seq')
        .limit(limit)
        .execute();
      return rows.map(toStoredEvent);
    },
  };
}

export type EventsRepo = ReturnType<typeof createEventsRepo>;
