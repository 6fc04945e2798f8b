import { expect, it } from 'vitest';
import { auditEvents, createKeyBody, keysUrl } from './helpers/api-keys.ts';
import { describeEachDb } from './helpers/each-db.ts';

describeEachDb('POST /v1/keys/verify', (t) => {
  const verify = (payload: Record<string, unknown>, key?: string) =>
    t().call({ method: 'POST', url: '/v1/keys/verify', payload, ...(key ? { key } : {}) });

  it('answers VALID with the key, its organization, permissions, metadata, expiry and rate limit', async () => {
    const verifier = await t().createKey(['api-keys:verify']);
    const k = await createKeyBody(t(), {
      name: 'billing client',
      permissions: ['invoices:read', 'invoices:write'],
      metadata: { customer: 'acme' },
      expiresIn: '30d',
      rateLimit: { limit: 10, window: '1m' },
    });
    const res = await verify({ key: k.key, permissions: ['invoices:read'], ip: '192.0.2.1' }, verifier.key);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      valid: true,
      code: 'VALID',
      keyId: k.id,
      organizationId: t().org,
      name: 'billing client',
      permissions: ['invoices:read', 'invoices:write'],
      metadata: { customer: 'acme' },
      expiresAt: k.expiresAt,
      rateLimit: { limit: 10, remaining: 9, reset: expect.any(String) },
    });
    const used = await auditEvents(t(), 'api_key.used', { targetId: k.id });
    expect(used[0]?.data).toMatchObject({ endpoint: 'POST /v1/keys/verify', ip: '192.0.2.1', count: 1 });
    const got = (await t().call({ method: 'GET', url: keysUrl(t(), k.id) })).json();
    expect(got).toMatchObject({ requestCount: 1, lastIp: '192.0.2.1' });
  });

  it("answers NOT_FOUND for malformed, unknown and other organizations' keys", async () => {
    const other = await t().createOrganization();
    const foreign = await t().createKey(['users:read'], {}, other);
    const real = await createKeyBody(t(), { permissions: ['users:read'] });
    const unknown = `${real.key.slice(0, 12)}${real.key.slice(12).split('').reverse().join('')}`;
    for (const key of ['nope', 'ak_live_short', unknown, foreign.key]) {
      const res = await verify({ key });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        valid: false,
        code: 'NOT_FOUND',
        keyId: null,
        organizationId: null,
      });
    }
    const fromOther = await verify({ key: foreign.key }, other.ownerKey);
    expect(fromOther.json()).toMatchObject({ valid: true, code: 'VALID', keyId: foreign.id });
  });

  it('answers REVOKED, EXPIRED, IP_NOT_ALLOWED, INSUFFICIENT_PERMISSIONS and RATE_LIMITED', async () => {
    const revoked = await createKeyBody(t(), { permissions: ['users:read'] });
    await t().call({ method: 'DELETE', url: keysUrl(t(), revoked.id) });
    expect((await verify({ key: revoked.key })).json()).toMatchObject({
      valid: false,
      code: 'REVOKED',
      keyId: revoked.id,
    });

    const expiring = await createKeyBody(t(), { permissions: ['users:read'], expiresIn: '1m' });
    const fenced = await createKeyBody(t(), { permissions: ['users:read'], ipAllowlist: ['10.0.0.0/8'] });
    const limited = await createKeyBody(t(), {
      permissions: ['users:read'],
      rateLimit: { limit: 1, window: '1h' },
    });
    t().clock.advance(61_000);
    expect((await verify({ key: expiring.key })).json().code).toBe('EXPIRED');

    expect((await verify({ key: fenced.key, ip: '10.1.2.3' })).json().code).toBe('VALID');
    expect((await verify({ key: fenced.key, ip: '192.0.2.1' })).json().code).toBe('IP_NOT_ALLOWED');
    expect((await verify({ key: fenced.key })).json().code).toBe('IP_NOT_ALLOWED');

    const denied = await verify({
      key: fenced.key,
      ip: '10.1.2.3',
      permissions: ['users:read', 'users:write'],
    });
    expect(denied.json()).toMatchObject({
      valid: false,
      code: 'INSUFFICIENT_PERMISSIONS',
      permissions: ['users:read'],
    });

    expect((await verify({ key: limited.key })).json().code).toBe('VALID');
    const over = (await verify({ key: limited.key })).json();
    expect(over).toMatchObject({ valid: false, code: 'RATE_LIMITED', rateLimit: { limit: 1, remaining: 0 } });
  });

  it('a key revoked a moment after a VALID verification (cached) is REVOKED on the next one', async () => {
    const k = await createKeyBody(t(), { permissions: ['users:read'] });
    expect((await verify({ key: k.key })).json().code).toBe('VALID');
    await t().call({ method: 'DELETE', url: keysUrl(t(), k.id) });
    expect((await verify({ key: k.key })).json()).toMatchObject({ valid: false, code: 'REVOKED' });
  });

  it('needs api-keys:verify (403) and refuses unknown fields and a bad ip (422)', async () => {
    const k = await createKeyBody(t(), { permissions: ['users:read'] });
    const res = await verify({ key: k.key }, k.key);
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'permission_denied' });
    expect(res.json().detail).toContain('api-keys:verify');
    const unknown = await verify({ key: k.key, org: 'x' });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().errors).toEqual([{ location: '/body/org', message: 'unknown field' }]);
    const badIp = await verify({ key: k.key, ip: '300.1.1.1' });
    expect(badIp.statusCode).toBe(422);
  });

  it('records each failed verification as api_key.verification_failed in the caller organization, with the client IP', async () => {
    const { generateApiKey } = await import('../src/crypto/api-key-format.ts');
    const k = await createKeyBody(t(), { permissions: ['users:read'] });
    await t().call({ method: 'DELETE', url: keysUrl(t(), k.id) });
    expect((await verify({ key: k.key, ip: '203.0.113.77' })).json().code).toBe('REVOKED');
    const stranger = generateApiKey('ak_live_');
    expect((await verify({ key: stranger, ip: '203.0.113.78' })).json().code).toBe('NOT_FOUND');
    const events = await auditEvents(t(), 'api_key.verification_failed');
    const revoked = events.find((e) => (e.data as { keyId?: string }).keyId === k.id);
    expect(revoked).toMatchObject({ outcome: 'failure', ip: '203.0.113.77', data: { code: 'REVOKED' } });
    const unknown = events.find((e) => e.ip === '203.0.113.78');
    expect(unknown).toMatchObject({ data: { keyId: null, code: 'NOT_FOUND' } });
    expect(JSON.stringify(events)).not.toContain(stranger);
  });
});
