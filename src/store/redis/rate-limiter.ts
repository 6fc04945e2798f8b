import type { Redis } from 'ioredis';
import type { RateDecision, RateLimiter } from '../../domain/api-keys/rate-limiter.ts';

// INCR then set the expiry on the first hit of a window, atomically: counters never outlive their window.
const HIT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count`;

/**
 * The same fixed windows as the in-memory limiter, counted in Redis so every
 * node of a deployment shares one budget per key. One round trip per request
 * with a rate limit; keys without a limit never reach Redis.
 */
export function createRedisRateLimiter(
  redis: Redis,
  now: () => number,
  prefix = 'latchkey:rl:',
): RateLimiter {
  const window = (id: string, windowMs: number) => {
    const start = Math.floor(now() / windowMs) * windowMs;
    return { key: `${prefix}${id}:${start}`, resetAt: start + windowMs };
  };
  const decide = (count: number, limit: number, resetAt: number): RateDecision => ({
    allowed: count <= limit,
    limit,
    remaining: Math.max(0, limit - count),
    resetAt,
  });
  return {
    async hit(id, limit, windowMs) {
      const w = window(id, windowMs);
      const count = Number(await redis.eval(HIT, 1, w.key, String(windowMs + 1000)));
      return decide(count, limit, w.resetAt);
    },
    async peek(id, limit, windowMs) {
      const w = window(id, windowMs);
      const count = Number((await redis.get(w.key)) ?? 0);
      return { ...decide(count, limit, w.resetAt), allowed: count < limit };
    },
    async reset(id) {
      const keys = await redis.keys(`${prefix}${id}:*`);
      if (keys.length > 0) await redis.del(...keys);
    },
  };
}
