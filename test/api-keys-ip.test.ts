import { expect, it } from 'vitest';
import { auditEvents, createKeyBody, me } from './helpers/api-keys.ts';
import { describeEachDb } from './helpers/each-db.ts';

const TRUSTED_PROXY = '10.0.0.5';

describeEachDb(
  'API key IP allowlist',
  (t) => {
    it('lets an allowed address through and answers 403 ip_not_allowed from outside, audited', async () => {
      const { key, id } = await createKeyBody(t(), {
        permissions: ['users:read'],
        ipAllowlist: ['203.0.113.0/24', '2001:db8::/32'],
      });
      expect((await me(t(), key, { remoteAddress: '203.0.113.9' })).statusCode).toBe(200);
      expect((await me(t(), key, { remoteAddress: '2001:db8::1' })).statusCode).toBe(200);
      expect((await me(t(), key, { remoteAddress: '::ffff:203.0.113.10' })).statusCode).toBe(200);

      const res = await me(t(), key, { remoteAddress: '198.51.100.7' });
      expect(res.statusCode).toBe(403);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json()).toMatchObject({ code: 'ip_not_allowed', status: 403 });

      const events = await auditEvents(t(), 'api_key.ip_denied', { targetId: id });
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        outcome: 'failure',
        ip: '198.51.100.7',
        data: { keyId: id, endpoint: 'GET /v1/users/me', ip: '198.51.100.7' },
      });
      expect(events[0]?.data.keyHint).toMatch(/^ak_live_.{4}….{4}$/);
    });

    it('ignores a spoofed X-Forwarded-For from an untrusted peer', async () => {
      const { key } = await createKeyBody(t(), {
        permissions: ['users:read'],
        ipAllowlist: ['203.0.113.0/24'],
      });
      const res = await me(t(), key, {
        remoteAddress: '198.51.100.7',
        headers: { 'x-forwarded-for': '203.0.113.9' },
      });
      expect(res.statusCode).toBe(403);
      expect(res.json().code).toBe('ip_not_allowed');
    });

    it('honours X-Forwarded-For from the configured trusted proxy', async () => {
      const { key } = await createKeyBody(t(), {
        permissions: ['users:read'],
        ipAllowlist: ['203.0.113.0/24'],
      });
      const allowed = await me(t(), key, {
        remoteAddress: TRUSTED_PROXY,
        headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' },
      });
      expect(allowed.statusCode).toBe(200);
      const denied = await me(t(), key, {
        remoteAddress: TRUSTED_PROXY,
        headers: { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'https' },
      });
      expect(denied.statusCode).toBe(403);
      expect(denied.json().code).toBe('ip_not_allowed');
    });

    it('records the client address (not the proxy) as the last IP of the key', async () => {
      const { key, id } = await createKeyBody(t(), { permissions: ['users:read'] });
      await me(t(), key, {
        remoteAddress: TRUSTED_PROXY,
        headers: { 'x-forwarded-for': '192.0.2.44', 'x-forwarded-proto': 'https' },
      });
      const got = await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/api-keys/${id}` });
      expect(got.json()).toMatchObject({ lastIp: '192.0.2.44', requestCount: 1 });
    });

    it('an allowlist change applies to the next request of a cached key', async () => {
      const { key, id } = await createKeyBody(t(), { permissions: ['users:read'] });
      expect((await me(t(), key, { remoteAddress: '198.51.100.7' })).statusCode).toBe(200);
      const patch = await t().call({
        method: 'PATCH',
        url: `/v1/organizations/${t().org}/api-keys/${id}`,
        payload: { ipAllowlist: ['203.0.113.0/24'] },
      });
      expect(patch.statusCode).toBe(200);
      expect((await me(t(), key, { remoteAddress: '198.51.100.7' })).json().code).toBe('ip_not_allowed');
    });
  },
  { env: { LATCHKEY_TRUST_PROXY: TRUSTED_PROXY } },
);
