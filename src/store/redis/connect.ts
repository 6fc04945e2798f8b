import { Redis } from 'ioredis';
import type { KeyInvalidationBus } from '../../domain/api-keys/invalidation.ts';
import type { RateLimiter } from '../../domain/api-keys/rate-limiter.ts';
import type { Clock } from '../../domain/shared/clock.ts';
import { createRedisInvalidationBus } from './key-invalidation.ts';
import { createRedisRateLimiter } from './rate-limiter.ts';

export interface RedisRuntime {
  services: { rateLimiter: RateLimiter; keyInvalidation: KeyInvalidationBus };
  close(): Promise<void>;
}

/** With `REDIS_URL`: shared per-key rate limits and cross-node cache invalidation. */
export async function connectRedis(url: string, clock: Clock): Promise<RedisRuntime> {
  const options = { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: true } as const;
  const client = new Redis(url, options);
  const subscriber = new Redis(url, options);
  await Promise.all([client.connect(), subscriber.connect()]);
  return {
    services: {
      rateLimiter: createRedisRateLimiter(client, () => clock.now().getTime()),
      keyInvalidation: createRedisInvalidationBus(client, subscriber),
    },
    async close() {
      await Promise.allSettled([client.quit(), subscriber.quit()]);
    },
  };
}
