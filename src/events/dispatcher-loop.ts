import type { WebhookDispatcher } from '../domain/webhooks/dispatcher.ts';
import type { EventPipeline } from './pipeline.ts';

export interface DispatcherLoop {
  /** Starts fanning out the outbox and delivering webhooks in the background. */
  start(): void;
  /** Stops claiming, waits for attempts in flight, and resolves. */
  stop(): Promise<void>;
  /** Wakes both loops now instead of at the next poll (after a local commit). */
  nudge(): void;
  /** Fans out and delivers until nothing is due (tests, `latchkey worker --once`). */
  runUntilIdle(): Promise<void>;
  readonly running: boolean;
}

const FAN_OUT_FULL = 500;
const LINGER_MS = 20;

function sleeper() {
  let wake: (() => void) | undefined;
  let woken = false;
  return {
    sleep(ms: number): Promise<void> {
      // A wake-up that came while the loop was busy is not lost: the next sleep returns at once.
      if (woken) {
        woken = false;
        return Promise.resolve();
      }
      return new Promise((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    },
    wake() {
      if (wake) wake();
      else woken = true;
    },
  };
}

/**
 * The background half of the event pipeline, run by `latchkey serve` and
 * `latchkey worker`: one loop moves committed events from the outbox to the
 * stream and the subscribers (webhook deliveries, rules), another attempts due
 * deliveries, up to `concurrency` endpoints at a time, one delivery per
 * endpoint at a time (so each endpoint receives its events in order). Both
 * poll every `intervalMs` when idle; several processes may run them on one
 * PostgreSQL database.
 */
export function createDispatcherLoop(deps: {
  pipeline: EventPipeline;
  webhooks: WebhookDispatcher;
  intervalMs?: number;
  concurrency?: number;
  onError?: (error: unknown) => void;
}): DispatcherLoop {
  const intervalMs = deps.intervalMs ?? 100;
  const concurrency = deps.concurrency ?? 32;
  const fanOutSleep = sleeper();
  const deliverSleep = sleeper();
  const inFlight = new Set<Promise<unknown>>();
  let running = false;
  let loops: Promise<void>[] = [];

  async function fanOutLoop(): Promise<void> {
    while (running) {
      let moved = 0;
      try {
        moved = await deps.pipeline.fanOut();
      } catch (error) {
        deps.onError?.(error);
      }
      if (moved > 0) deliverSleep.wake();
      if (!running) break;
      if (moved === 0) await fanOutSleep.sleep(intervalMs);
      // A partial batch: linger a moment so the next transaction carries several events, not one.
      else if (moved < FAN_OUT_FULL) await new Promise((r) => setTimeout(r, LINGER_MS));
    }
  }

  async function deliverLoop(): Promise<void> {
    while (running) {
      let claimed = 0;
      const room = concurrency - inFlight.size;
      if (room > 0) {
        try {
          const rows = await deps.webhooks.claim(room);
          claimed = rows.length;
          for (const row of rows) {
            const p: Promise<unknown> = deps.webhooks
              .attempt(row)
              .catch((error: unknown) => deps.onError?.(error))
              .finally(() => {
                inFlight.delete(p);
                deliverSleep.wake();
              });
            inFlight.add(p);
          }
        } catch (error) {
          deps.onError?.(error);
        }
      }
      if (claimed === 0 && running) await deliverSleep.sleep(intervalMs);
    }
    await Promise.allSettled([...inFlight]);
  }

  return {
    get running() {
      return running;
    },
    start() {
      if (running) return;
      running = true;
      loops = [fanOutLoop(), deliverLoop()];
    },
    async stop() {
      running = false;
      fanOutSleep.wake();
      deliverSleep.wake();
      await Promise.all(loops);
      loops = [];
    },
    nudge() {
      fanOutSleep.wake();
      deliverSleep.wake();
    },
    async runUntilIdle() {
      for (;;) {
        const moved = await deps.pipeline.drain();
        const delivered = await deps.webhooks.runOnce();
        if (moved === 0 && delivered === 0) return;
      }
    },
  };
}
