import { expect, it } from 'vitest';
import { auditEvents, createKeyBody, keysUrl, me } from './helpers/api-keys.ts';
import { describeEachDb } from './helpers/each-db.ts';

const DAY = 86_400_000;

describeEachDb('API keys: list, usage stats, update', (t) => {
  it('lists hint, status, permissions, creator and usage stats (lastUsedAt, requestCount, lastIp), never secrets', async () => {
    const k = await createKeyBody(t(), { name: 'stats', permissions: ['users:read'] });
    for (let i = 0; i < 3; i++) await me(t(), k.key, { remoteAddress: '192.0.2.7' });
    const list = await t().call({ method: 'GET', url: `${keysUrl(t())}?limit=200` });
    expect(list.body).not.toContain(k.key);
    const row = list.json().data.find((x: { id: string }) => x.id === k.id);
    expect(row).toMatchObject({
      hint: `ak_live_${k.key.slice(8, 12)}…${k.key.slice(-4)}`,
      status: 'active',
      permissions: ['users:read'],
      createdBy: { type: 'api_key' },
      requestCount: 3,
      lastIp: '192.0.2.7',
      lastUsedAt: t().clock.now().toISOString(),
    });
    // The counts were in memory; after the batched write they come from the database, unchanged.
    await t().services.batch.flush();
    const got = (await t().call({ method: 'GET', url: keysUrl(t(), k.id) })).json();
    expect(got).toMatchObject({ requestCount: 3, lastIp: '192.0.2.7' });
  });

  it('filters by status and unusedForDays', async () => {
    const used = await createKeyBody(t(), { permissions: ['users:read'] });
    const idle = await createKeyBody(t(), { permissions: ['users:read'] });
    const gone = await createKeyBody(t(), { permissions: ['users:read'] });
    await t().call({ method: 'DELETE', url: keysUrl(t(), gone.id) });
    t().clock.advance(40 * DAY);
    await me(t(), used.key);
    const ids = async (q: string) =>
      (await t().call({ method: 'GET', url: `${keysUrl(t())}?${q}&limit=200` }))
        .json()
        .data.map((k: { id: string }) => k.id);
    const unused = await ids('unusedForDays=30');
    expect(unused).toContain(idle.id);
    expect(unused).not.toContain(used.id);
    const revoked = await ids('status=revoked');
    expect(revoked).toEqual(expect.arrayContaining([gone.id]));
    expect(revoked).not.toContain(idle.id);
    const activeUnused = await ids('status=active&unusedForDays=30');
    expect(activeUnused).toContain(idle.id);
    expect(activeUnused).not.toContain(gone.id);
    const bad = await t().call({ method: 'GET', url: `${keysUrl(t())}?unusedForDays=-1` });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().errors[0].location).toBe('/query/unusedForDays');
  });

  it('paginates with a cursor', async () => {
    for (let i = 0; i < 3; i++) await createKeyBody(t(), { permissions: ['users:read'] });
    const first = (await t().call({ method: 'GET', url: `${keysUrl(t())}?limit=2` })).json();
    expect(first.data).toHaveLength(2);
    const second = (
      await t().call({ method: 'GET', url: `${keysUrl(t())}?limit=2&cursor=${first.nextCursor}` })
    ).json();
    expect(second.data[0].id > first.data[1].id).toBe(true);
  });

  it('PATCH updates name, description, allowlist, rate limit and metadata, audited', async () => {
    const k = await createKeyBody(t(), { name: 'old', permissions: ['users:read'] });
    const res = await t().call({
      method: 'PATCH',
      url: keysUrl(t(), k.id),
      payload: {
        name: 'new',
        description: 'now documented',
        ipAllowlist: ['192.0.2.0/24'],
        rateLimit: { limit: 50, window: '1s' },
        metadata: { owner: 'platform' },
      },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      name: 'new',
      description: 'now documented',
      ipAllowlist: ['192.0.2.0/24'],
      rateLimit: { limit: 50, window: '1s' },
      metadata: { owner: 'platform' },
    });
    const [event] = await auditEvents(t(), 'api_key.updated', { targetId: k.id });
    expect(event?.data.changes).toEqual({
      name: 'new',
      description: 'now documented',
      ipAllowlist: ['192.0.2.0/24'],
      rateLimit: { limit: 50, window: '1s' },
      metadata: { owner: 'platform' },
    });
  });

  it("PATCH permissions: shrink always, grow only within the caller's own (403 permission_escalation)", async () => {
    const manager = await t().createKey(['api-keys:write', 'users:read', 'users:write']);
    const k = await createKeyBody(t(), { permissions: ['users:read', 'users:delete'] });
    const url = keysUrl(t(), k.id);
    const shrink = await t().call({
      method: 'PATCH',
      url,
      key: manager.key,
      payload: { permissions: ['users:delete'] },
    });
    expect(shrink.statusCode).toBe(200);
    expect(shrink.json().permissions).toEqual(['users:delete']);
    // The cached key loses the permission on its very next request.
    const read = await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/users`, key: k.key });
    expect(read.statusCode).toBe(403);

    const grow = await t().call({
      method: 'PATCH',
      url,
      key: manager.key,
      payload: { permissions: ['users:delete', 'users:write'] },
    });
    expect(grow.statusCode).toBe(200);
    const escalate = await t().call({
      method: 'PATCH',
      url,
      key: manager.key,
      payload: { permissions: ['users:delete', 'users:write', 'roles:write'] },
    });
    expect(escalate.statusCode).toBe(403);
    expect(escalate.json()).toMatchObject({ code: 'permission_escalation' });
    expect(escalate.json().detail).toContain('roles:write');
    expect((await t().call({ method: 'GET', url })).json().permissions).toEqual([
      'users:delete',
      'users:write',
    ]);
  });

  it("PATCH refuses an empty body, unknown fields, bad CIDRs (422), revoked keys (409) and the owner key's permissions", async () => {
    const k = await createKeyBody(t(), { permissions: ['users:read'] });
    const url = keysUrl(t(), k.id);
    expect((await t().call({ method: 'PATCH', url, payload: {} })).statusCode).toBe(422);
    const unknown = await t().call({ method: 'PATCH', url, payload: { status: 'active' } });
    expect(unknown.json().errors).toEqual([{ location: '/body/status', message: 'unknown field' }]);
    const cidr = await t().call({ method: 'PATCH', url, payload: { ipAllowlist: ['192.0.2.0/40'] } });
    expect(cidr.json().errors).toEqual([
      { location: '/body/ipAllowlist/0', message: '"192.0.2.0/40" is not an IP address or CIDR range' },
    ]);
    await t().call({ method: 'DELETE', url });
    const revoked = await t().call({ method: 'PATCH', url, payload: { name: 'x' } });
    expect(revoked.statusCode).toBe(409);

    const meRes = await me(t(), t().ownerKey);
    const owner = await t().call({
      method: 'PATCH',
      url: keysUrl(t(), meRes.json().id),
      payload: { permissions: ['users:read'] },
    });
    expect(owner.statusCode).toBe(403);
    expect(owner.json().code).toBe('protected_resource');
  });

  it('GET /v1/users/me reflects a key rename, a permission change and an organization rename at once', async () => {
    const k = await createKeyBody(t(), { name: 'before', permissions: ['users:read', 'roles:read'] });
    const first = (await me(t(), k.key)).json();
    expect(first).toMatchObject({ name: 'before', permissions: ['roles:read', 'users:read'] });
    expect((await me(t(), k.key)).json()).toEqual(first); // the second answer is the cached body

    const patched = await t().call({
      method: 'PATCH',
      url: keysUrl(t(), k.id),
      payload: { name: 'after', permissions: ['users:read'] },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect((await me(t(), k.key)).json()).toMatchObject({ name: 'after', permissions: ['users:read'] });

    const renamed = await t().call({
      method: 'PATCH',
      url: `/v1/organizations/${t().org}`,
      payload: { name: 'Renamed organization' },
    });
    expect(renamed.statusCode, renamed.body).toBe(200);
    // The first answer after the rename reads the organization again; the next ones are cached.
    for (let i = 0; i < 3; i++) {
      expect((await me(t(), k.key)).json().organization.name).toBe('Renamed organization');
    }
  });
});
