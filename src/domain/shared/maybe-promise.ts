/**
 * A value now, or later. The request hot path (IP blocks, API-key checks)
 * answers synchronously from memory and only returns a promise when it has to
 * wait (a cache miss, a shared rate limiter): with tens of thousands of
 * requests a second, the promises and microtask turns of always-async code
 * were a measurable share of each request.
 */
export type MaybePromise<T> = T | Promise<T>;

export function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
