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
  /**
   * Counts one use of a key at `atMs` (epoch ms) from `ip` on `endpoint`: its
   * usage counters and its aggregated `api_key.used` event, with map lookups
   * on strings the request already has (no key is built per request). False
   * when this endpoint and address are new for the key in this flush interval:
   * the caller then builds the event once and passes it to `addKeyUseEvent`.
   */
  recordKeyUse(keyId: string, atMs: number, ip: string | null, endpoint: string | null): boolean;
  addKeyUseEvent(
    keyId: string,
    atMs: number,
    ip: string | null,
    endpoint: string | null,
    event: EventRecord,
  ): void;
  /**
   * Counts one more occurrence of an aggregated event (`api_key.rate_limited`)
   * whose `group` (key, endpoint, source IP) was already
   * seen in this flush interval; false when it is new, and the caller then
   * builds the event once and passes it to `addAggregated`. Each group becomes
   * one event whose `data` carries `count`, `firstAt` and `lastAt`.
   */
  countAggregated(group: string, atMs: number): boolean;
  addAggregated(group: string, atMs: number, event: EventRecord): void;
  /** Usage of a key counted in memory and not yet written (so listings are current). */
  pendingUse(keyId: string): UsageDelta | undefined;
  /** Writes everything pending; concurrent calls share one write. */
  flush(): Promise<void>;
  start(): void;
  /** Stops the timer and writes what is pending. */
  stop(): Promise<void>;
  pending(): number;
}

/** Times stay epoch milliseconds in memory and become ISO strings once per flush, not per request. */
interface PendingUse {
  keyId: string;
  count: number;
  lastUsedMs: number;
  lastIp: string | null;
  /** `api_key.used` by endpoint, then source address. */
  events: Map<string | null, Map<string | null, PendingAggregate>>;
}

interface PendingAggregate {
  event: EventRecord;
  count: number;
  firstMs: number;
  lastMs: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

function usageDelta(u: PendingUse): UsageDelta {
  return { keyId: u.keyId, count: u.count, lastUsedAt: iso(u.lastUsedMs), lastIp: u.lastIp };
}

function aggregatedEvent(a: PendingAggregate): EventRecord {
  return {
    ...a.event,
    data: { ...a.event.data, count: a.count, firstAt: iso(a.firstMs), lastAt: iso(a.lastMs) },
  };
}

export function createBatchWriter(deps: {
  store: Store;
  intervalMs: number;
  onError?: (error: unknown) => void;
}): BatchWriter {
  let events: EventRecord[] = [];
  let usage = new Map<string, PendingUse>();
  let aggregated = new Map<string, PendingAggregate>();
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;

  async function write(): Promise<void> {
    if (events.length === 0 && usage.size === 0 && aggregated.size === 0) return;
    const batchEvents = events.concat(Array.from(aggregated.values(), aggregatedEvent));
    for (const u of usage.values()) {
      for (const byIp of u.events.values())
        for (const a of byIp.values()) batchEvents.push(aggregatedEvent(a));
    }
    const batchUsage = Array.from(usage.values(), usageDelta);
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
        const ms = Date.parse(d.lastUsedAt);
        if (cur) cur.count += d.count;
        else
          usage.set(d.keyId, {
            keyId: d.keyId,
            count: d.count,
            lastUsedMs: ms,
            lastIp: d.lastIp,
            events: new Map(),
          });
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

  function countAggregated(group: string, atMs: number): boolean {
    const cur = aggregated.get(group);
    if (!cur) return false;
    cur.count += 1;
    cur.lastMs = atMs;
    return true;
  }

  return {
    recordEvent(event) {
      events.push(event);
    },
    recordKeyUse(keyId, atMs, ip, endpoint) {
      let use = usage.get(keyId);
      if (use) {
        use.count += 1;
        use.lastUsedMs = atMs;
        use.lastIp = ip;
      } else {
        use = { keyId, count: 1, lastUsedMs: atMs, lastIp: ip, events: new Map() };
        usage.set(keyId, use);
      }
      const aggregate = use.events.get(endpoint)?.get(ip);
      if (!aggregate) return false;
      aggregate.count += 1;
      aggregate.lastMs = atMs;
      return true;
    },
    addKeyUseEvent(keyId, atMs, ip, endpoint, event) {
      let use = usage.get(keyId);
      if (!use) {
        use = { keyId, count: 0, lastUsedMs: atMs, lastIp: ip, events: new Map() };
        usage.set(keyId, use);
      }
      let byIp = use.events.get(endpoint);
      if (!byIp) {
        byIp = new Map();
        use.events.set(endpoint, byIp);
      }
      byIp.set(ip, { event, count: 1, firstMs: atMs, lastMs: atMs });
    },
    countAggregated,
    addAggregated(group, atMs, event) {
      if (countAggregated(group, atMs)) return;
      aggregated.set(group, { event, count: 1, firstMs: atMs, lastMs: atMs });
    },
    pendingUse(keyId) {
      const u = usage.get(keyId);
      return u ? usageDelta(u) : undefined;
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
    pending: () => events.length + usage.size + aggregated.size,
  };
}
