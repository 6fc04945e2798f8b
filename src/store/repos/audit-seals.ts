import { type Kysely, sql } from 'kysely';
import type { Database } from '../schema.ts';
import { type StoredEvent, toStoredEvent } from './events.ts';

export interface Seal {
  seq: number;
  id: string;
  sealedAt: string;
  firstSeq: number;
  lastSeq: number;
  eventCount: number;
  prevHash: string;
  hash: string;
}

export interface Digest {
  eventSeq: number;
  eventId: string;
  sealId: string;
  digest: string;
}

export function createAuditSealsRepo(db: Kysely<Database>, dialect: 'sqlite' | 'postgres') {
  return {
    /** Serialises sealers across processes (PostgreSQL row lock; SQLite already runs one writer at a time). */
    async lock(): Promise<void> {
      await db
        .insertInto('meta')
        .values({ key: 'audit_seal_lock', value: '' })
        .onConflict((oc) => oc.column('key').doNothing())
        .execute();
      if (dialect === 'postgres') {
        await sql`select value from meta where key = 'audit_seal_lock' for update`.execute(db);
      }
    },
    async last(): Promise<Seal | undefined> {
      const row = await db
        .selectFrom('audit_seals')
        .selectAll()
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row ? toSeal(row) : undefined;
    },
    async all(): Promise<Seal[]> {
      const rows = await db.selectFrom('audit_seals').selectAll().orderBy('seq').execute();
      return rows.map(toSeal);
    },
    /** Events without a digest yet, oldest first, written before `before`. */
    async unsealedEvents(before: string, limit: number): Promise<StoredEvent[]> {
      const rows = await db
        .selectFrom('events')
        .leftJoin('audit_digests', 'audit_digests.event_seq', 'events.seq')
        .selectAll('events')
        .where('audit_digests.event_seq', 'is', null)
        .where('events.time', '<', before)
        .orderBy('events.seq')
        .limit(limit)
        .execute();
      return rows.map(toStoredEvent);
    },
    async countUnsealed(): Promise<number> {
      const row = await db
        .selectFrom('events')
        .leftJoin('audit_digests', 'audit_digests.event_seq', 'events.seq')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('audit_digests.event_seq', 'is', null)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
    async insert(seal: Omit<Seal, 'seq'>, digests: readonly Digest[]): Promise<void> {
      await db
        .insertInto('audit_seals')
        .values({
          id: seal.id,
          sealed_at: seal.sealedAt,
          first_seq: seal.firstSeq,
          last_seq: seal.lastSeq,
          event_count: seal.eventCount,
          prev_hash: seal.prevHash,
          hash: seal.hash,
        })
        .execute();
      for (let i = 0; i < digests.length; i += 200) {
        await db
          .insertInto('audit_digests')
          .values(
            digests.slice(i, i + 200).map((d) => ({
              event_seq: d.eventSeq,
              event_id: d.eventId,
              seal_id: d.sealId,
              digest: d.digest,
            })),
          )
          .execute();
      }
    },
    async digestsOf(sealId: string): Promise<Digest[]> {
      const rows = await db
        .selectFrom('audit_digests')
        .selectAll()
        .where('seal_id', '=', sealId)
        .orderBy('event_seq')
        .execute();
      return rows.map((r) => ({
        eventSeq: Number(r.event_seq),
        eventId: r.event_id,
        sealId: r.seal_id,
        digest: r.digest,
      }));
    },
    async eventsBySeq(seqs: readonly number[]): Promise<Map<number, StoredEvent>> {
      const out = new Map<number, StoredEvent>();
      for (let i = 0; i < seqs.length; i += 500) {
        const rows = await db
          .selectFrom('events')
          .selectAll()
          .where('seq', 'in', seqs.slice(i, i + 500))
          .execute();
        for (const row of rows) out.set(Number(row.seq), toStoredEvent(row));
      }
      return out;
    },
  };
}

function toSeal(row: {
  seq: number;
  id: string;
  sealed_at: string;
  first_seq: number;
  last_seq: number;
  event_count: number;
  prev_hash: string;
  hash: string;
}): Seal {
  return {
    seq: Number(row.seq),
    id: row.id,
    sealedAt: row.sealed_at,
    firstSeq: Number(row.first_seq),
    lastSeq: Number(row.last_seq),
    eventCount: Number(row.event_count),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export type AuditSealsRepo = ReturnType<typeof createAuditSealsRepo>;
