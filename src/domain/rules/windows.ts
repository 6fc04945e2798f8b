import { parseDuration } from '../shared/duration.ts';
import { compileAlternatives } from './paths.ts';
import type { Threshold } from './types.ts';

export interface WindowHit {
  count: number;
  eventIds: string[];
}

interface CountGroup {
  times: number[];
  ids: string[];
  weights: number[];
  total: number;
}

/**
 * How many occurrences one event stands for: aggregated events (`api_key.used`,
 * `api_key.rate_limited`, written once per key, endpoint and address per
 * batch interval) carry `data.count`; every other event counts once.
 */
export function eventWeight(event: unknown): number {
  const count = (event as { data?: { count?: unknown } } | null)?.data?.count;
  return typeof count === 'number' && Number.isInteger(count) && count > 1 ? count : 1;
}

interface DistinctGroup {
  values: Map<string, { at: number; id: string }>;
}

interface BaselineGroup {
  firstBucket: number;
  bucket: number;
  count: number;
  ids: string[];
  /** Counts of earlier buckets within the history, by bucket index. */
  past: Map<number, number>;
}

const MAX_GROUPS = 100_000;

/** Drops the oldest tenth of the groups when a rule tracks too many (a flood of distinct IPs). */
function capGroups<T>(groups: Map<string, T>): void {
  if (groups.size <= MAX_GROUPS) return;
  let drop = Math.ceil(MAX_GROUPS / 10);
  for (const key of groups.keys()) {
    groups.delete(key);
    if (--drop === 0) break;
  }
}

/**
 * In-memory state of one rule's threshold: a sliding window per group (count
 * or distinct values), or tumbling buckets compared with the group's own
 * history (baseline). Times are event times, so replay and backtest decide
 * exactly as live evaluation did. A firing resets its group.
 */
export function createThresholdState(threshold: Threshold) {
  const windowMs = parseDuration(threshold.window) ?? 60_000;
  const historyBuckets = threshold.baseline
    ? Math.max(1, Math.floor((parseDuration(threshold.baseline.history) ?? 86_400_000) / windowMs))
    : 0;
  const readDistinct = threshold.distinct ? compileAlternatives(threshold.distinct) : undefined;
  const counts = new Map<string, CountGroup>();
  const distincts = new Map<string, DistinctGroup>();
  const baselines = new Map<string, BaselineGroup>();
  let sinceSweep = 0;

  function sweep(now: number): void {
    for (const [key, g] of counts)
      if ((g.times[g.times.length - 1] ?? 0) <= now - windowMs) counts.delete(key);
    for (const [key, g] of distincts) {
      for (const [v, seen] of g.values) if (seen.at <= now - windowMs) g.values.delete(v);
      if (g.values.size === 0) distincts.delete(key);
    }
    for (const [key, g] of baselines)
      if (g.bucket < Math.floor(now / windowMs) - historyBuckets) baselines.delete(key);
  }

  function addCount(groupKey: string, at: number, id: string, weight: number): WindowHit | undefined {
    let g = counts.get(groupKey);
    if (!g) {
      g = { times: [], ids: [], weights: [], total: 0 };
      counts.set(groupKey, g);
      capGroups(counts);
    }
    g.times.push(at);
    g.ids.push(id);
    g.weights.push(weight);
    g.total += weight;
    let drop = 0;
    while (drop < g.times.length && (g.times[drop] ?? 0) <= at - windowMs) g.total -= g.weights[drop++] ?? 0;
    if (drop > 0) {
      g.times.splice(0, drop);
      g.ids.splice(0, drop);
      g.weights.splice(0, drop);
    }
    if (g.total < threshold.count) return undefined;
    const hit = { count: g.total, eventIds: g.ids };
    counts.delete(groupKey);
    return hit;
  }

  function addDistinct(groupKey: string, at: number, id: string, value: unknown): WindowHit | undefined {
    if (value === undefined || value === null || value === '') return undefined;
    let g = distincts.get(groupKey);
    if (!g) {
      g = { values: new Map() };
      distincts.set(groupKey, g);
      capGroups(distincts);
    }
    const v = String(value);
    g.values.delete(v);
    g.values.set(v, { at, id });
    for (const [key, seen] of g.values) {
      if (seen.at > at - windowMs) break;
      g.values.delete(key);
    }
    if (g.values.size < threshold.count) return undefined;
    const hit = { count: g.values.size, eventIds: [...g.values.values()].map((s) => s.id) };
    distincts.delete(groupKey);
    return hit;
  }

  function addBaseline(groupKey: string, at: number, id: string, weight: number): WindowHit | undefined {
    const bucket = Math.floor(at / windowMs);
    let g = baselines.get(groupKey);
    if (!g) {
      g = { firstBucket: bucket, bucket, count: 0, ids: [], past: new Map() };
      baselines.set(groupKey, g);
      capGroups(baselines);
    }
    if (bucket !== g.bucket) {
      if (g.count >= 0) g.past.set(g.bucket, Math.max(g.count, g.past.get(g.bucket) ?? 0));
      for (const b of g.past.keys()) if (b < bucket - historyBuckets) g.past.delete(b);
      g.bucket = bucket;
      g.count = 0;
      g.ids = [];
    }
    g.count += weight;
    if (g.ids.length < 100) g.ids.push(id);
    if (g.count < threshold.count) return undefined;
    // The average over the buckets of the history the group has existed for (empty hours count as 0).
    const span = Math.min(historyBuckets, bucket - g.firstBucket);
    let total = 0;
    for (const [b, c] of g.past) if (b >= bucket - span) total += c;
    const mean = span > 0 ? total / span : 0;
    const factor = threshold.baseline?.factor ?? 1;
    if (g.count < factor * mean) return undefined;
    // Mark the bucket as having fired: -Infinity keeps the rest of the hour quiet.
    const hit = { count: g.count, eventIds: [...g.ids] };
    g.past.set(bucket, g.count);
    g.count = Number.NEGATIVE_INFINITY;
    return hit;
  }

  return {
    windowMs,
    add(groupKey: string, at: number, id: string, event: unknown): WindowHit | undefined {
      if (++sinceSweep >= 50_000) {
        sinceSweep = 0;
        sweep(at);
      }
      if (threshold.baseline) return addBaseline(groupKey, at, id, eventWeight(event));
      if (readDistinct) return addDistinct(groupKey, at, id, readDistinct(event));
      return addCount(groupKey, at, id, eventWeight(event));
    },
    size: () => counts.size + distincts.size + baselines.size,
  };
}

export type ThresholdState = ReturnType<typeof createThresholdState>;
