/**
 * Verification cache: lookup digest -> key snapshot (hit) or null (miss).
 *
 * Entries are found by a memory-only digest of the presented key (cheaper to
 * compute than the keyed hash the database is searched by) and evicted by
 * that stored keyed hash: revocation, rotation, update and expiry call
 * `invalidate(keyHash)` before they answer. A lookup that started before an
 * invalidation never writes its (possibly stale) result back: the generation
 * check below.
 */
export interface KeyCache<T> {
  get(digest: string): T | null | undefined;
  /** Begin a lookup; pass the token to `set` so stale results are dropped. */
  begin(): number;
  set(token: number, digest: string, keyHash: string, value: T | null): void;
  invalidate(keyHash: string): void;
  clear(): void;
  size(): number;
}

interface Entry<T> {
  value: T | null;
  until: number;
  keyHash: string;
}

export function createKeyCache<T>(options: {
  maxEntries: number;
  ttlMs: number;
  now: () => number;
}): KeyCache<T> {
  const entries = new Map<string, Entry<T>>();
  const digestOf = new Map<string, string>();
  let generation = 0;
  const drop = (digest: string, entry: Entry<T>) => {
    entries.delete(digest);
    if (digestOf.get(entry.keyHash) === digest) digestOf.delete(entry.keyHash);
  };
  return {
    get(digest) {
      const entry = entries.get(digest);
      if (!entry) return undefined;
      if (entry.until <= options.now()) {
        drop(digest, entry);
        return undefined;
      }
      return entry.value;
    },
    begin: () => generation,
    set(token, digest, keyHash, value) {
      if (token !== generation) return;
      if (entries.size >= options.maxEntries && !entries.has(digest)) {
        const oldest = entries.entries().next().value;
        if (oldest !== undefined) drop(oldest[0], oldest[1]);
      }
      entries.set(digest, { value, until: options.now() + options.ttlMs, keyHash });
      digestOf.set(keyHash, digest);
    },
    invalidate(keyHash) {
      generation += 1;
      const digest = digestOf.get(keyHash);
      if (digest === undefined) return;
      digestOf.delete(keyHash);
      entries.delete(digest);
    },
    clear() {
      generation += 1;
      entries.clear();
      digestOf.clear();
    },
    size: () => entries.size,
  };
}
