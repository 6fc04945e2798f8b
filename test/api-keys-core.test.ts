import { expect, it } from 'vitest';
import { describeEachDb } from './helpers/each-db.ts';

describeEachDb('API keys: create, use, revoke', (t) => {
  it('creates a key shown once, in the format of DESIGN.md', async () => {
    const res = await t().call({
      method: 'POST',
      url: `/v1/organizations/${t().org}/api-keys`,
      payload: {
        name: 'Production Backend',
        permissions: ['users:read', 'users:write', 'roles:read'],
        expiresIn: '365d',
      },
    });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.key).toMatch(/^ak_live_[0-9A-Za-z]{39}$/);
    expect(body.permissions).toEqual(['users:read', 'users:write', 'roles:read']);
    expect(new Date(body.expiresAt).getTime() - new Date(body.createdAt).getTime()).toBe(365 * 86_400_000);
    expect(body.hint).toBe(`ak_live_${body.key.slice(8, 12)}…${body.key.slice(-4)}`);

    const got = await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/api-keys/${body.id}` });
    expect(got.statusCode).toBe(200);
    expect(got.json().key).toBeUndefined();
    expect(got.body).not.toContain(body.key);
  });

  it('lets a created key call the API until it is revoked, then answers 401 api_key_revoked', async () => {
    const { id, key } = await t().createKey(['users:read']);
    const before = await t().call({ method: 'GET', url: '/v1/users/me', key });
    expect(before.statusCode).toBe(200);
    expect(before.json()).toMatchObject({ type: 'api_key', id, permissions: ['users:read'] });

    const revoke = await t().call({
      method: 'DELETE',
      url: `/v1/organizations/${t().org}/api-keys/${id}?reason=rotated`,
    });
    expect(revoke.statusCode).toBe(204);

    const after = await t().call({ method: 'GET', url: '/v1/users/me', key });
    expect(after.statusCode).toBe(401);
    expect(after.json().code).toBe('api_key_revoked');
    expect(after.headers['www-authenticate']).toContain('Bearer');
  });

  it('refuses permissions the caller does not hold (403 permission_escalation)', async () => {
    const { key } = await t().createKey(['api-keys:write', 'users:read']);
    const res = await t().call({
      method: 'POST',
      url: `/v1/organizations/${t().org}/api-keys`,
      key,
      payload: { name: 'escalate', permissions: ['users:read', 'users:delete'] },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('permission_escalation');
    expect(res.json().detail).toContain('users:delete');
  });
});
