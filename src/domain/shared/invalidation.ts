/**
 * Tells the other nodes to drop something from their in-memory caches (an API
 * key by its keyed hash, an organization's OAuth engine and settings by its
 * id). With one node there is nothing to tell; with several, Redis pub/sub
 * carries it (`src/store/redis/invalidation.ts`). A lost message only delays
 * the eviction to the cache's own time to live; the node that made the change
 * has evicted already.
 */
export interface InvalidationBus {
  publish(id: string): void;
  subscribe(onId: (id: string) => void): Promise<void>;
}
