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
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;

  async function write(): Promise<void> {
    if (events.length === 0 && usage.size === 0) return;
    const batchEvents = events;
    const batchUsage = [...usage.values()];
    events = [];
    usage = new Map();
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
    pending: () => events.length + usage.size,
  };
}
