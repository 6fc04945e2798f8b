import { createHash } from 'node:crypto';
import { newId } from '../../crypto/ids.ts';
import type { StoredEvent } from '../../store/repos/events.ts';
import type { Store } from '../../store/store.ts';
import type { Clock } from '../shared/clock.ts';

const GENESIS = '0'.repeat(64);
const SEAL_BATCH = 5000;
/** Events younger than this are left for the next seal, so a transaction still committing is not skipped. */
const SETTLE_MS = 2000;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The digest of one event over every stored field, in a fixed order. */
export function eventDigest(e: StoredEvent): string {
  return sha256(
    JSON.stringify([
      e.seq,
      e.id,
      e.organizationId,
      e.type,
      e.time,
      e.actor.type,
      e.actor.id,
      e.actor.display,
      e.target?.type ?? null,
      e.target?.id ?? null,
      e.outcome,
      e.ip,
      e.userAgent,
      e.requestId,
      e.data,
    ]),
  );
}

function sealHash(
  prevHash: string,
  digests: readonly { eventSeq: number; eventId: string; digest: string }[],
): string {
  return sha256(`${prevHash}\n${digests.map((d) => `${d.eventSeq}:${d.eventId}:${d.digest}`).join('\n')}`);
}

export interface SealResult {
  seals: number;
  events: number;
}

export interface VerifyProblem {
  kind: 'seal_chain_broken' | 'seal_altered' | 'event_modified' | 'event_deleted';
  sealId: string;
  eventId?: string;
  eventSeq?: number;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  seals: number;
  eventsVerified: number;
  unsealedEvents: number;
  /** The first bad record in log order; verification stops there. */
  problem: VerifyProblem | null;
}

/**
 * Periodic seals: every event since the previous seal gets a digest, and the
 * seal hashes those digests onto the previous seal's hash. Editing or deleting
 * a sealed event, a digest or a seal breaks the chain at that record.
 */
export function createAuditSealer(deps: { store: Store; clock: Clock }) {
  const { store, clock } = deps;

  async function sealOnce(): Promise<number> {
    return store.transaction(async (tx) => {
      await tx.auditSeals.lock();
      const before = new Date(clock.now().getTime() - SETTLE_MS).toISOString();
      const events = await tx.auditSeals.unsealedEvents(before, SEAL_BATCH);
      if (events.length === 0) return 0;
      const last = await tx.auditSeals.last();
      const prevHash = last?.hash ?? GENESIS;
      const id = newId('seal', clock.now().getTime());
      const digests = events.map((e) => ({
        eventSeq: e.seq,
        eventId: e.id,
        sealId: id,
        digest: eventDigest(e),
      }));
      await tx.auditSeals.insert(
        {
          id,
          sealedAt: clock.now().toISOString(),
          firstSeq: events[0]!.seq,
          lastSeq: events[events.length - 1]!.seq,
          eventCount: events.length,
          prevHash,
          hash: sealHash(prevHash, digests),
        },
        digests,
      );
      return events.length;
    });
  }

  return {
    /** Seals everything that has settled; returns how many seals and events were written. */
    async seal(): Promise<SealResult> {
      const result = { seals: 0, events: 0 };
      for (;;) {
        const n = await sealOnce();
        if (n === 0) return result;
        result.seals += 1;
        result.events += n;
      }
    },

    async verify(onProgress?: (done: number, total: number) => void): Promise<VerifyReport> {
      const seals = await store.auditSeals.all();
      let prevHash = GENESIS;
      let verified = 0;
      const fail = (problem: VerifyProblem): VerifyReport => ({
        ok: false,
        seals: seals.length,
        eventsVerified: verified,
        unsealedEvents: 0,
        problem,
      });
      for (const [index, seal] of seals.entries()) {
        if (seal.prevHash !== prevHash) {
          return fail({
            kind: 'seal_chain_broken',
            sealId: seal.id,
            message: `seal ${seal.id} does not follow the previous seal`,
          });
        }
        const digests = await store.auditSeals.digestsOf(seal.id);
        const events = await store.auditSeals.eventsBySeq(digests.map((d) => d.eventSeq));
        for (const d of digests) {
          const event = events.get(d.eventSeq);
          if (!event || event.id !== d.eventId) {
            return fail({
              kind: 'event_deleted',
              sealId: seal.id,
              eventId: d.eventId,
              eventSeq: d.eventSeq,
              message: `event ${d.eventId} (seq ${d.eventSeq}) was deleted or replaced`,
            });
          }
          if (eventDigest(event) !== d.digest) {
            return fail({
              kind: 'event_modified',
              sealId: seal.id,
              eventId: d.eventId,
              eventSeq: d.eventSeq,
              message: `event ${d.eventId} (seq ${d.eventSeq}) was modified after it was sealed`,
            });
          }
          verified += 1;
        }
        if (digests.length !== seal.eventCount || sealHash(seal.prevHash, digests) !== seal.hash) {
          return fail({
            kind: 'seal_altered',
            sealId: seal.id,
            message: `seal ${seal.id} or its digests were altered`,
          });
        }
        prevHash = seal.hash;
        onProgress?.(index + 1, seals.length);
      }
      return {
        ok: true,
        seals: seals.length,
        eventsVerified: verified,
        unsealedEvents: await store.auditSeals.countUnsealed(),
        problem: null,
      };
    },
  };
}

export type AuditSealer = ReturnType<typeof createAuditSealer>;
