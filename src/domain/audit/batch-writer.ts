import type { UsageDelta } from '../../store/repos/api-keys.ts';
import type { EventRecord } from '../../store/repos/events.ts';
import type { Store } from '../../store/store.ts';

/**
 * High-volume writes (API-key usage counters, `api_key.used` and `auth.failed`
 * events) are collected in memory and written in one transaction every
 * interval and on shutdown, so the request path never writes to the database.
 */
export interface BatchWriter {
  recordEvent(event: EventRecord): void;
  recordKeyUse(keyId: string, at: string, ip: string | null): void;
  /**
   * Counts one occurrence of an aggregated event (`api_key.used`): requests
   * with the same `group` (key, endpoint, source IP) within one flush interval
   * become one event whose `data` carries `count`, `firstAt` and `lastAt`.
   * `make` builds the event on the first occurrence only.
   */
  recordAggregated(group: string, at: string, make: () => EventRecord): void;
  /** Usage of a key counted in memory and not yet written (so listings are current). */
  pendingUse(keyId: string): UsageDelta | undefined;
  /** Writes everything pending; concurrent calls share one write. */
  flush(): Promise<void>;
  start(): void;
  /** Stops the timer and writes what is pending. */
  stop(): Promise<void>;
  pending(): number;
}

export function createBatchWriter(deps: {
  store: Store;
  intervalMs: number;
  onError?: (error: unknown) => void;
}): BatchWriter {
  let events: EventRecord[] = [];
  let usage = new Map<string, UsageDelta>();
  let aggregated = new Map<string, EventRecord>();
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;

  async function write(): Promise<void> {
    if (events.length === 0 && usage.size === 0 && aggregated.size === 0) return;
    const batchEvents = events.concat([...aggregated.values()]);
    const batchUsage = [...usage.values()];
    events = [];
    usage = new Map();
    aggregated = new Map();
    try {
      await deps.store.transaction(async (tx) => {
        await tx.events.append(batchEvents);
        await tx.apiKeys.addUsage(batchUsage);
      });
    } catch (error) {
      // Put the batch back so the next flush retries it; nothing is dropped on a transient failure.
      events = batchEvents.concat(events);
      for (const d of batchUsage) {
        const cur = usage.get(d.keyId);
        usage.set(d.keyId, cur ? { ...cur, count: cur.count + d.count } : d);
      }
      throw error;
    }
  }

  async function flush(): Promise<void> {
    while (inFlight) await inFlight;
    inFlight = write().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  return {
    recordEvent(event) {
      events.push(event);
    },
    recordKeyUse(keyId, at, ip) {
      const cur = usage.get(keyId);
      if (cur) {
        cur.count += 1;
        cur.lastUsedAt = at;
        cur.lastIp = ip;
      } else {
        usage.set(keyId, { keyId, count: 1, lastUsedAt: at, lastIp: ip });
      }
    },
    recordAggregated(group, at, make) {
      const cur = aggregated.get(group);
      if (cur) {
        cur.data.count = (cur.data.count as number) + 1;
        cur.data.lastAt = at;
        return;
      }
      const event = make();
      event.data = { ...event.data, count: 1, firstAt: at, lastAt: at };
      aggregated.set(group, event);
    },
    pendingUse: (keyId) => usage.get(keyId),
    flush,
    start() {
      if (timer) return;
      timer = setInterval(() => {
        flush().catch((error) => deps.onError?.(error));
      }, deps.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await flush();
    },
    pending: () => events.length + usage.size + aggregated.size,
  };
}
