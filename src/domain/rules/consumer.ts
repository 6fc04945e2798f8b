import type { StoredEvent } from '../../store/repos/events.ts';
import type { Store } from '../../store/store.ts';
import type { Clock } from '../shared/clock.ts';

/**
 * Feeds committed events, in commit order, to a handler. This is the small
 * seam the event pipeline (issue 5) can replace with its own subscription.
 */
export interface EventFeed {
  /** Handles every event committed so far; resolves with how many were handled. */
  drain(): Promise<number>;
  start(intervalMs: number): void;
  stop(): Promise<void>;
}

/**
 * A durable consumer of the `events` table. The cursor (`rule_cursors`) is the
 * highest seq below which every event was handled; it is saved after each
 * batch, so a restart re-reads at most the batch in flight (at least once;
 * the responder makes firings idempotent).
 *
 * In PostgreSQL a lower seq can commit after a higher one (sequence values
 * are taken at insert, rows appear at commit). A seq missing below the
 * highest one seen is therefore remembered as a gap and looked for again on
 * every poll for `gapWaitMs`; only then is it given up as a rolled-back
 * insert. The cursor never passes an open gap, and handled seqs above it are
 * remembered so nothing is handled twice while a gap is open.
 */
export function createEventTableFeed(deps: {
  store: Store;
  name: string;
  handle: (event: StoredEvent) => Promise<void>;
  /** Called once before the first batch with the cursor it starts from (to warm windows). */
  onStart?: (cursor: number) => Promise<void>;
  clock: Clock;
  batchSize?: number;
  gapWaitMs?: number;
  onError?: (error: unknown) => void;
  /** Wall time for gap expiry; not the domain clock (tests freeze that). */
  wallNow?: () => number;
}): EventFeed {
  const { store } = deps;
  const batchSize = deps.batchSize ?? 500;
  const gapWaitMs = deps.gapWaitMs ?? 10_000;
  const wallNow = deps.wallNow ?? (() => performance.now());
  let cursor: number | undefined;
  let highest = 0;
  const handled = new Set<number>();
  const gaps = new Map<number, number>();
  let running: Promise<number> | undefined;
  let timer: NodeJS.Timeout | undefined;

  async function init(): Promise<number> {
    let saved = await store.rules.cursor(deps.name);
    if (saved === undefined) {
      // First start: evaluate from now on; history is for backtests, not for alerts about the past.
      saved = await store.ruleEvents.maxSeq();
      await store.rules.saveCursor(deps.name, saved, deps.clock.now().toISOString());
    }
    highest = saved;
    await deps.onStart?.(saved);
    return saved;
  }

  async function handleAll(events: readonly StoredEvent[]): Promise<void> {
    for (const event of events) {
      if (handled.has(event.seq) || (cursor !== undefined && event.seq <= cursor)) continue;
      await deps.handle(event);
      handled.add(event.seq);
      gaps.delete(event.seq);
    }
  }

  async function advance(): Promise<void> {
    if (cursor === undefined) return;
    const before = cursor;
    let at: number = cursor;
    const now = wallNow();
    while (at < highest) {
      const next: number = at + 1;
      if (handled.has(next)) handled.delete(next);
      else {
        const seen = gaps.get(next);
        if (seen === undefined || now - seen < gapWaitMs) break;
        gaps.delete(next);
      }
      at = next;
    }
    cursor = at;
    if (at !== before) await store.rules.saveCursor(deps.name, at, deps.clock.now().toISOString());
  }

  async function once(): Promise<number> {
    if (cursor === undefined) cursor = await init();
    let total = 0;
    if (gaps.size > 0) {
      const late = await store.ruleEvents.bySeqs([...gaps.keys()]);
      await handleAll(late);
      total += late.length;
    }
    for (;;) {
      const rows = await store.ruleEvents.afterSeq(highest, batchSize);
      if (rows.length === 0) break;
      let expected = highest + 1;
      const now = wallNow();
      for (const row of rows) {
        for (; expected < row.seq; expected++) if (!gaps.has(expected)) gaps.set(expected, now);
        expected = row.seq + 1;
      }
      await handleAll(rows);
      total += rows.length;
      highest = rows[rows.length - 1]?.seq ?? highest;
      await advance();
      if (rows.length < batchSize) break;
    }
    await advance();
    return total;
  }

  return {
    drain() {
      const run = (running ?? Promise.resolve(0)).then(once, once);
      running = run.finally(() => {
        if (running === run) running = undefined;
      });
      return run;
    },
    start(intervalMs) {
      if (timer) return;
      timer = setInterval(() => {
        if (running) return;
        this.drain().catch((error) => deps.onError?.(error));
      }, intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
  };
}
