import type { Clock } from '../domain/shared/clock.ts';
import type { StoredEvent } from '../store/repos/events.ts';
import type { Store } from '../store/store.ts';
import { matchesAny } from './catalogue.ts';

/**
 * A consumer of committed events. `handle` runs inside the fan-out
 * transaction with that transaction's Store: what it writes (rule state, new
 * events such as `rule.triggered`, webhook deliveries) commits together with
 * the removal of the events from the outbox, so each event is consumed exactly
 * once as far as the database is concerned. If it throws, the whole batch is
 * rolled back and offered again on the next tick (at-least-once for any side
 * effect outside the database, which must therefore be idempotent or be
 * queued through the database instead).
 */
export interface EventSubscriber {
  /** Unique, for logs and errors. */
  name: string;
  /** `*`, exact types or `prefix.*` wildcards. */
  types: readonly string[];
  /** Called with the batch's matching events in commit order; never with an empty list. */
  handle(events: readonly StoredEvent[], tx: Store): Promise<void>;
}

export interface EventPipeline {
  /** Registers a consumer; register the same consumers in every process that runs a dispatcher. */
  subscribe(subscriber: EventSubscriber): () => void;
  /**
   * Moves committed events from the outbox into the commit-ordered stream and
   * hands them to every subscriber, in one transaction. Returns how many
   * events it moved (0 when the outbox is empty or another process holds the
   * fan-out lock).
   */
  fanOut(): Promise<number>;
  /** Fans out until the outbox is empty (tests, shutdown, the pull API). */
  drain(): Promise<number>;
}

const BATCH = 500;

export function createEventPipeline(deps: { store: Store; clock: Clock; holder: string }): EventPipeline {
  const { store, clock } = deps;
  const subscribers = new Map<string, EventSubscriber>();
  let running: Promise<number> | undefined;

  async function fanOutOnce(): Promise<number> {
    return store.transaction(async (tx) => {
      if (!(await tx.outbox.tryLockFanout(deps.holder, clock.now().toISOString()))) return 0;
      const entries = await tx.outbox.head(BATCH);
      if (entries.length === 0) return 0;
      const events = entries.map((e) => e.event);
      await tx.outbox.appendStream(events);
      for (const s of subscribers.values()) {
        const matching = events.filter((e) => matchesAny(s.types, e.type));
        if (matching.length > 0) await s.handle(matching, tx);
      }
      await tx.outbox.remove(entries.map((e) => e.outboxSeq));
      return entries.length;
    });
  }

  // One fan-out at a time per process; concurrent callers share it.
  function fanOut(): Promise<number> {
    if (!running) {
      running = fanOutOnce().finally(() => {
        running = undefined;
      });
    }
    return running;
  }

  return {
    subscribe(subscriber) {
      if (subscribers.has(subscriber.name))
        throw new Error(`event subscriber ${subscriber.name} is already registered`);
      subscribers.set(subscriber.name, subscriber);
      return () => subscribers.delete(subscriber.name);
    },
    fanOut,
    async drain() {
      // A fan-out already running may have started before the caller's commit: let it finish first.
      if (running) await running.catch(() => 0);
      let total = 0;
      for (;;) {
        const n = await fanOut();
        total += n;
        if (n === 0) {
          if (running) await running.catch(() => 0);
          return total;
        }
      }
    },
  };
}
