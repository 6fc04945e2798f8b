/**
 * Tells other nodes to evict a key from their verification caches. With one
 * node there is nothing to tell; with several, Redis pub/sub carries it.
 */
export interface KeyInvalidationBus {
  publish(hash: string): void;
  subscribe(onHash: (hash: string) => void): Promise<void>;
}
