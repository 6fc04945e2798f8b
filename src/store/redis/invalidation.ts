import type { Redis } from 'ioredis';
import type { InvalidationBus } from '../../domain/shared/invalidation.ts';

/** Revoke, rotate, update or expiry of an API key: its keyed hash. */
export const API_KEYS_CHANNEL = 'latchkey:api-keys:invalidate';
/** OAuth clients, signing keys or settings of an organization changed: its id. */
export const OAUTH_CHANNEL = 'latchkey:oauth:invalidate';

/**
 * Cache invalidation across nodes over one Redis channel: a revoked key is
 * refused by every node within a second (DESIGN.md), and an organization's
 * OAuth engine, signing keys and settings are reloaded everywhere when they
 * change. `subscriber` must be a dedicated connection (Redis puts it in
 * subscribe mode); several buses may share it, each on its own channel.
 */
export function createRedisInvalidationBus(
  publisher: Redis,
  subscriber: Redis,
  channel: string,
): InvalidationBus {
  return {
    publish(id) {
      publisher.publish(channel, id).catch(() => {
        // A lost message only delays eviction to the cache TTL; the origin node evicted already.
      });
    },
    async subscribe(onId) {
      subscriber.on('message', (from: string, message: string) => {
        if (from === channel) onId(message);
      });
      await subscriber.subscribe(channel);
    },
  };
}
