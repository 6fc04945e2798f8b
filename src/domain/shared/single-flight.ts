/**
 * Concurrent callers asking for the same key share one load (one database
 * read for a cold cache entry, however many requests wait for it). `forget`
 * drops a load in flight, so a caller after a change starts a new one rather
 * than joining a read that began before the change.
 */
export function createSingleFlight<K, V>() {
  const inflight = new Map<K, Promise<V>>();
  return {
    run(key: K, load: () => Promise<V>): Promise<V> {
      const running = inflight.get(key);
      if (running) return running;
      const started = load().finally(() => {
        if (inflight.get(key) === started) inflight.delete(key);
      });
      inflight.set(key, started);
      return started;
    },
    forget(key: K): void {
      inflight.delete(key);
    },
  };
}
