import { expect, it } from 'vitest';
import { auditEvents, createKeyBody, me } from './helpers/api-keys.ts';
import { describeEachDb } from './helpers/each-db.ts';

describeEachDb('API key rate limit', (t) => {
  it('answers 429 rate_limited with Retry-After and RateLimit headers past the budget, until the window ends', async () => {
    // Start at a window boundary so the arithmetic below is exact.
    const now = t().clock.now().getTime();
    t().clock.advance(60_000 - (now % 60_000));
    const { key, id } = await createKeyBody(t(), {
      permissions: ['users:read'],
      rateLimit: { limit: 3, window: '1m' },
    });
    for (let i = 1; i <= 3; i++) {
      const ok = await me(t(), key);
      expect(ok.statusCode).toBe(200);
      expect(ok.headers['ratelimit-limit']).toBe('3');
      expect(ok.headers['ratelimit-remaining']).toBe(String(3 - i));
      expect(ok.headers['ratelimit-reset']).toBe('60');
    }
    t().clock.advance(15_000);
    const limited = await me(t(), key);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['content-type']).toContain('application/problem+json');
    expect(limited.json()).toMatchObject({ code: 'rate_limited', status: 429 });
    expect(limited.headers['retry-after']).toBe('45');
    expect(limited.headers['ratelimit-remaining']).toBe('0');
    expect(limited.headers['ratelimit-reset']).toBe('45');

    // Refusals past the limit are audited as one api_key.rate_limited event with a count.
    await me(t(), key);
    const [refused] = await auditEvents(t(), 'api_key.rate_limited', { targetId: id });
    expect(refused).toMatchObject({
      outcome: 'failure',
      data: { keyId: id, count: 2, endpoint: 'GET /v1/users/me' },
    });

    t().clock.advance(45_000);
    const again = await me(t(), key);
    expect(again.statusCode).toBe(200);
    expect(again.headers['ratelimit-remaining']).toBe('2');
  });

  it('counts each key separately, and keys without a limit send no RateLimit headers', async () => {
    const a = await createKeyBody(t(), {
      permissions: ['users:read'],
      rateLimit: { limit: 1, window: '1h' },
    });
    const b = await createKeyBody(t(), {
      permissions: ['users:read'],
      rateLimit: { limit: 1, window: '1h' },
    });
    const free = await createKeyBody(t(), { permissions: ['users:read'] });
    expect((await me(t(), a.key)).statusCode).toBe(200);
    expect((await me(t(), a.key)).statusCode).toBe(429);
    expect((await me(t(), b.key)).statusCode).toBe(200);
    const res = await me(t(), free.key);
    expect(res.statusCode).toBe(200);
    expect(res.headers['ratelimit-limit']).toBeUndefined();
  });

  it('a rate limit added by PATCH applies at once; null removes it', async () => {
    const k = await createKeyBody(t(), { permissions: ['users:read'] });
    const url = `/v1/organizations/${t().org}/api-keys/${k.id}`;
    await t().call({ method: 'PATCH', url, payload: { rateLimit: { limit: 1, window: '1h' } } });
    expect((await me(t(), k.key)).statusCode).toBe(200);
    expect((await me(t(), k.key)).statusCode).toBe(429);
    const cleared = await t().call({ method: 'PATCH', url, payload: { rateLimit: null } });
    expect(cleared.json().rateLimit).toBeNull();
    expect((await me(t(), k.key)).statusCode).toBe(200);
  });
});
