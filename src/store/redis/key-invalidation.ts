import type { Redis } from 'ioredis';
import type { KeyInvalidationBus } from '../../domain/api-keys/invalidation.ts';

const CHANNEL = 'latchkey:api-keys:invalidate';

/**
 * Cache invalidation across nodes: a revoke, rotate, update or expiry on one
 * node evicts the key from every node's verification cache (DESIGN.md: a
 * revoked key is refused by every node within a second). `subscriber` must be
 * a dedicated connection (Redis puts it in subscribe mode).
 */
export function createRedisInvalidationBus(publisher: Redis, subscriber: Redis): KeyInvalidationBus {
  return {
    publish(hash) {
      publisher.publish(CHANNEL, hash).catch(() => {
        // A lost message only delays eviction to the cache TTL; the origin node evicted already.
      });
    },
    async subscribe(onHash) {
      subscriber.on('message', (channel: string, message: string) => {
        if (channel === CHANNEL) onHash(message);
      });
      await subscriber.subscribe(CHANNEL);
    },
  };
}
