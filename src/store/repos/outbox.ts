import { type Kysely, sql } from 'kysely';
import type { Dialect } from '../db.ts';
import type { Database } from '../schema.ts';
import { type StoredEvent, toStoredEvent } from './events.ts';

export interface OutboxEntry {
  outboxSeq: number;
  event: StoredEvent;
}

export interface StreamEntry {
  pos: number;
  event: StoredEvent;
}

export interface StreamFilter {
  afterPos: number;
  /** Exact types or `prefix.*` wildcards; empty means every type. */
  types: readonly string[];
  limit: number;
}

export function createOutboxRepo(db: Kysely<Database>, dialect: Dialect) {
  return {
    /**
     * Takes the fan-out lock for the rest of the transaction, or answers false
     * at once when another process holds it. On PostgreSQL a row lock with
     * SKIP LOCKED; on SQLite the UPDATE takes the database's single write lock
     * up front, so the transaction never has to upgrade a read lock later.
     */
    async tryLockFanout(holder: string, at: string): Promise<boolean> {
      if (dialect === 'postgres') {
        const row = await db
          .selectFrom('dispatch_locks')
          .select('name')
          .where('name', '=', 'fanout')
          .forUpdate()
          .skipLocked()
          .executeTakeFirst();
        return row !== undefined;
      }
      await db.updateTable('dispatch_locks').set({ holder, at }).where('name', '=', 'fanout').execute();
      return true;
    },
    /** The oldest outbox entries with their events, in outbox order (call under the fan-out lock). */
    async head(limit: number): Promise<OutboxEntry[]> {
      const rows = await db
        .selectFrom('event_outbox as o')
        .innerJoin('events as e', 'e.id', 'o.event_id')
        .selectAll('e')
        .select('o.seq as outbox_seq')
        .orderBy('o.seq')
        .limit(limit)
        .execute();
      return rows.map((r) => ({ outboxSeq: Number(r.outbox_seq), event: toStoredEvent(r) }));
    },
    async remove(outboxSeqs: readonly number[]): Promise<void> {
      for (let i = 0; i < outboxSeqs.length; i += 500) {
        await db
          .deleteFrom('event_outbox')
          .where('seq', 'in', outboxSeqs.slice(i, i + 500))
          .execute();
      }
    },
    async pending(): Promise<number> {
      const row = await db
        .selectFrom('event_outbox')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
    /** Appends to the commit-ordered stream (under the fan-out lock, so positions become visible in order). */
    async appendStream(events: readonly StoredEvent[]): Promise<void> {
      for (let i = 0; i < events.length; i += 200) {
        await db
          .insertInto('event_stream')
          .values(
            events
              .slice(i, i + 200)
              .map((e) => ({ event_id: e.id, organization_id: e.organizationId, type: e.type })),
          )
          .execute();
      }
    },
    async streamAfter(organizationId: string, filter: StreamFilter): Promise<StreamEntry[]> {
      let query = db
        .selectFrom('event_stream as s')
        .innerJoin('events as e', 'e.id', 's.event_id')
        .selectAll('e')
        .select('s.pos as pos')
        .where('s.organization_id', '=', organizationId)
        .where('s.pos', '>', filter.afterPos);
      if (filter.types.length > 0) {
        query = query.where((eb) =>
          eb.or(
            filter.types.map((t) =>
              t.endsWith('.*') ? eb('s.type', 'like', `${t.slice(0, -1)}%`) : eb('s.type', '=', t),
            ),
          ),
        );
      }
      const rows = await query.orderBy('s.pos').limit(filter.limit).execute();
      return rows.map((r) => ({ pos: Number(r.pos), event: toStoredEvent(r) }));
    },
    /** Events of a time range in log order, for replay; keyset on `seq`. */
    async eventsInRange(organizationId: string, from: string, to: string, afterSeq: number, limit: number) {
      const rows = await db
        .selectFrom('events')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .where('time', '>=', from)
        .where('time', '<', to)
        .where('seq', '>', afterSeq)
        .orderBy('seq')
        .limit(limit)
        .execute();
      return rows.map(toStoredEvent);
    },
    async lastPos(organizationId: string): Promise<number> {
      const row = await db
        .selectFrom('event_stream')
        .select(sql<number>`coalesce(max(pos), 0)`.as('pos'))
        .where('organization_id', '=', organizationId)
        .executeTakeFirstOrThrow();
      return Number(row.pos);
    },
  };
}

export type OutboxRepo = ReturnType<typeof createOutboxRepo>;
