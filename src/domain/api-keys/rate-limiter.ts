/**
 * Per-key request budgets. The in-memory limiter serves one node; with
 * several nodes a shared implementation (Redis) keeps one count per key.
 */
export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Epoch milliseconds at which the current window ends. */
  resetAt: number;
}

export interface RateLimiter {
  /** Counts one request against `id`'s budget of `limit` per `windowMs` and says whether it may pass. */
  hit(id: string, limit: number, windowMs: number): RateDecision | Promise<RateDecision>;
  /** Reads the budget without counting a request. */
  peek(id: string, limit: number, windowMs: number): RateDecision | Promise<RateDecision>;
  reset(id: string): void | Promise<void>;
}

/**
 * Fixed windows aligned to multiples of the window length: O(1) per request,
 * one small entry per key. At most `limit` requests pass per window.
 */
export function createMemoryRateLimiter(now: () => number): RateLimiter {
  const windows = new Map<string, { start: number; count: number }>();
  function current(id: string, windowMs: number) {
    const start = Math.floor(now() / windowMs) * windowMs;
    let entry = windows.get(id);
    if (!entry || entry.start !== start) {
      entry = { start, count: 0 };
      windows.set(id, entry);
    }
    return entry;
  }
  return {
    hit(id, limit, windowMs) {
      const entry = current(id, windowMs);
      const allowed = entry.count < limit;
      if (allowed) entry.count += 1;
      return { allowed, limit, remaining: Math.max(0, limit - entry.count), resetAt: entry.start + windowMs };
    },
    peek(id, limit, windowMs) {
      const entry = current(id, windowMs);
      return {
        allowed: entry.count < limit,
        limit,
        remaining: Math.max(0, limit - entry.count),
        resetAt: entry.start + windowMs,
      };
    },
    reset(id) {
      windows.delete(id);
    },
  };
}
