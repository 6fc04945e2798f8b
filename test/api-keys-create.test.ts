import { expect, it } from 'vitest';
import { SCOPE_PRESETS } from '../src/domain/permissions/catalogue.ts';
import { auditEvents, createKeyBody, keysUrl, me } from './helpers/api-keys.ts';
import { describeEachDb } from './helpers/each-db.ts';

describeEachDb('POST /v1/organizations/:org/api-keys', (t) => {
  it('creates a key with description, permissions, expiry, allowlist, rate limit and metadata (201, secret once)', async () => {
    const res = await t().call({
      method: 'POST',
      url: keysUrl(t()),
      payload: {
        name: 'SIEM Integration',
        description: 'Read-only key for Splunk to pull audit logs',
        permissions: ['audit:read'],
        expiresIn: '90d',
        ipAllowlist: ['203.0.113.0/24', '2001:db8::/32', '127.0.0.1'],
        rateLimit: { limit: 100, window: '1m' },
        metadata: { team: 'security', tier: 2 },
      },
    });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({
      name: 'SIEM Integration',
      description: 'Read-only key for Splunk to pull audit logs',
      permissions: ['audit:read'],
      status: 'active',
      tier: 'read-only',
      ipAllowlist: ['203.0.113.0/24', '2001:db8::/32', '127.0.0.1'],
      rateLimit: { limit: 100, window: '1m' },
      metadata: { team: 'security', tier: 2 },
      requestCount: 0,
      lastUsedAt: null,
      createdBy: { type: 'api_key' },
    });
    expect(body.key).toMatch(/^ak_live_[0-9A-Za-z]{39}$/);
    expect(Date.parse(body.expiresAt) - Date.parse(body.createdAt)).toBe(90 * 86_400_000);

    const listed = await t().call({ method: 'GET', url: keysUrl(t()) });
    expect(listed.body).not.toContain(body.key);
    const got = await t().call({ method: 'GET', url: keysUrl(t(), body.id) });
    expect(got.json().key).toBeUndefined();
    expect(got.json().metadata).toEqual({ team: 'security', tier: 2 });

    const [created] = await auditEvents(t(), 'api_key.created', { targetId: body.id });
    expect(created?.data).toMatchObject({ name: 'SIEM Integration', expiresAt: body.expiresAt });
  });

  it('accepts expiresAt instead of expiresIn', async () => {
    const at = new Date(t().clock.now().getTime() + 3_600_000).toISOString();
    const body = await createKeyBody(t(), { permissions: ['users:read'], expiresAt: at });
    expect(body.expiresAt).toBe(at);
  });

  it.each(Object.keys(SCOPE_PRESETS))('expands the %s scope preset (seed 004)', async (scope) => {
    const body = await createKeyBody(t(), { scope });
    expect(body.scope).toBe(scope);
    expect(body.tier).toBe(scope);
    expect([...(body.permissions as string[])].sort()).toEqual(
      [...SCOPE_PRESETS[scope as keyof typeof SCOPE_PRESETS]].sort(),
    );
  });

  it('read-only keys read but cannot write', async () => {
    const { key } = await createKeyBody(t(), { scope: 'read-only' });
    expect(
      (await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/users`, key })).statusCode,
    ).toBe(200);
    const write = await t().call({
      method: 'POST',
      url: `/v1/organizations/${t().org}/users`,
      key,
      payload: { email: 'ro@example.com' },
    });
    expect(write.statusCode).toBe(403);
    expect(write.json().code).toBe('permission_denied');
  });

  it('grants custom resource:action permissions for your own APIs', async () => {
    const body = await createKeyBody(t(), { permissions: ['invoices:read', 'invoices:write'] });
    expect(body.permissions).toEqual(['invoices:read', 'invoices:write']);
    expect(body.tier).toBe('read-write');
  });

  it('refuses permissions the caller does not hold (403 permission_escalation), custom ones included', async () => {
    const { key } = await t().createKey(['api-keys:write', 'users:read']);
    for (const permissions of [['users:read', 'users:delete'], ['invoices:read']]) {
      const res = await t().call({
        method: 'POST',
        url: keysUrl(t()),
        key,
        payload: { name: 'x', permissions },
      });
      expect(res.statusCode).toBe(403);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json()).toMatchObject({ code: 'permission_escalation', status: 403 });
      expect(res.json().detail).toContain(permissions.at(-1));
    }
    const scoped = await t().call({
      method: 'POST',
      url: keysUrl(t()),
      key,
      payload: { name: 'x', scope: 'admin' },
    });
    expect(scoped.json().code).toBe('permission_escalation');
    const ok = await t().call({
      method: 'POST',
      url: keysUrl(t()),
      key,
      payload: { name: 'x', permissions: ['users:read'] },
    });
    expect(ok.statusCode).toBe(201);
  });

  it('refuses a bad CIDR naming every bad entry (422)', async () => {
    const res = await t().call({
      method: 'POST',
      url: keysUrl(t()),
      payload: { name: 'x', ipAllowlist: ['10.0.0.0/8', '10.0.0.0/33', 'not-an-ip'] },
    });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({
      code: 'validation_failed',
      errors: [
        { location: '/body/ipAllowlist/1', message: '"10.0.0.0/33" is not an IP address or CIDR range' },
        { location: '/body/ipAllowlist/2', message: '"not-an-ip" is not an IP address or CIDR range' },
      ],
    });
  });

  it('refuses a bad duration, a past expiresAt, both expiry fields, and a bad rate-limit window (422)', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ expiresIn: '90 days' }, '/body/expiresIn'],
      [{ expiresIn: '0d' }, '/body/expiresIn'],
      [{ expiresAt: '2000-01-01T00:00:00Z' }, '/body/expiresAt'],
      [{ expiresIn: '1d', expiresAt: '2999-01-01T00:00:00Z' }, '/body/expiresAt'],
      [{ rateLimit: { limit: 10, window: 'soon' } }, '/body/rateLimit/window'],
      [{ rateLimit: { limit: 0, window: '1m' } }, '/body/rateLimit/limit'],
      [{ permissions: ['Users:Read'] }, '/body/permissions/0'],
      [{ scope: 'superuser' }, '/body/scope'],
    ];
    for (const [payload, location] of cases) {
      const res = await t().call({ method: 'POST', url: keysUrl(t()), payload: { name: 'x', ...payload } });
      expect(res.statusCode, JSON.stringify(payload)).toBe(422);
      expect(res.json().code).toBe('validation_failed');
      expect(res.json().errors.map((e: { location: string }) => e.location)).toContain(location);
    }
  });

  it('refuses unknown fields (422 naming them) and oversize metadata', async () => {
    const res = await t().call({ method: 'POST', url: keysUrl(t()), payload: { name: 'x', admin: true } });
    expect(res.statusCode).toBe(422);
    expect(res.json().errors).toEqual([{ location: '/body/admin', message: 'unknown field' }]);
    const big = await t().call({
      method: 'POST',
      url: keysUrl(t()),
      payload: { name: 'x', metadata: { blob: 'x'.repeat(5000) } },
    });
    expect(big.statusCode).toBe(422);
    expect(big.json().errors).toEqual([
      { location: '/body/metadata', message: 'must be at most 4096 bytes when serialized' },
    ]);
  });

  it('mints scim_ keys that reach SCIM endpoints only', async () => {
    const body = await createKeyBody(t(), { type: 'scim' });
    expect(body.key).toMatch(/^scim_[0-9A-Za-z]{39}$/);
    expect(body.permissions).toEqual(['scim:provision']);
    const res = await me(t(), body.key);
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'permission_denied' });
    expect(res.json().detail).toContain('SCIM');
  });

  it('mints ak_test_ keys in test organizations', async () => {
    const other = await t().createOrganization('Sandbox', 'test');
    const res = await t().call({
      method: 'POST',
      url: `/v1/organizations/${other.org}/api-keys`,
      key: other.ownerKey,
      payload: { name: 'sandbox', permissions: ['users:read'] },
    });
    expect(res.json().key).toMatch(/^ak_test_/);
  });
});
