/**
 * Verification cache: key hash -> key snapshot (hit) or null (miss).
 * Revocation, rotation, update and expiry call `invalidate` before they
 * answer. A lookup that started before an invalidation never writes its
 * (possibly stale) result back: the generation check below.
 */
export interface KeyCache<T> {
  get(hash: string): T | null | undefined;
  /** Begin a lookup; pass the token to `set` so stale results are dropped. */
  begin(): number;
  set(token: number, hash: string, value: T | null): void;
  invalidate(hash: string): void;
  clear(): void;
  size(): number;
}

export function createKeyCache<T>(options: {
  maxEntries: number;
  ttlMs: number;
  now: () => number;
}): KeyCache<T> {
  const entries = new Map<string, { value: T | null; until: number }>();
  let generation = 0;
  return {
    get(hash) {
      const entry = entries.get(hash);
      if (!entry) return undefined;
      if (entry.until <= options.now()) {
        entries.delete(hash);
        return undefined;
      }
      return entry.value;
    },
    begin: () => generation,
    set(token, hash, value) {
      if (token !== generation) return;
      if (entries.size >= options.maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest !== undefined) entries.delete(oldest);
      }
      entries.set(hash, { value, until: options.now() + options.ttlMs });
    },
    invalidate(hash) {
      generation += 1;
      entries.delete(hash);
    },
    clear() {
      generation += 1;
      entries.clear();
    },
    size: () => entries.size,
  };
}
