import { Redis } from 'ioredis';
import type { KeyInvalidationBus } from '../../domain/api-keys/invalidation.ts';
import type { RateLimiter } from '../../domain/api-keys/rate-limiter.ts';
import type { Clock } from '../../domain/shared/clock.ts';
import type { InvalidationBus } from '../../domain/shared/invalidation.ts';
import { API_KEYS_CHANNEL, createRedisInvalidationBus, OAUTH_CHANNEL } from './invalidation.ts';
import { createRedisRateLimiter } from './rate-limiter.ts';

export interface RedisRuntime {
  services: {
    rateLimiter: RateLimiter;
    keyInvalidation: KeyInvalidationBus;
    oauthInvalidation: InvalidationBus;
  };
  close(): Promise<void>;
}

/** With `REDIS_URL`: shared per-key rate limits and cross-node cache invalidation (API keys, OAuth). */
export async function connectRedis(url: string, clock: Clock): Promise<RedisRuntime> {
  const options = { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: true } as const;
  const client = new Redis(url, options);
  const subscriber = new Redis(url, options);
  await Promise.all([client.connect(), subscriber.connect()]);
  return {
    services: {
      rateLimiter: createRedisRateLimiter(client, () => clock.now().getTime()),
      keyInvalidation: createRedisInvalidationBus(client, subscriber, API_KEYS_CHANNEL),
      oauthInvalidation: createRedisInvalidationBus(client, subscriber, OAUTH_CHANNEL),
    },
    async close() {
      await Promise.allSettled([client.quit(), subscriber.quit()]);
    },
  };
}
