import { expect, it } from 'vitest';
import { describeEachDb } from './helpers/each-db.ts';

describeEachDb('users and roles', (t) => {
  const users = () => `/v1/organizations/${t().org}/users`;
  const roles = () => `/v1/organizations/${t().org}/roles`;

  it('creates, gets, updates, disables, enables and deletes a user, each audited', async () => {
    const created = await t().call({
      method: 'POST',
      url: users(),
      payload: { email: 'Ada@Example.com', name: 'Ada' },
    });
    expect(created.statusCode).toBe(201);
    const user = created.json();
    expect(user).toMatchObject({ email: 'Ada@Example.com', name: 'Ada', status: 'active', metadata: {} });
    expect(user.id).toMatch(/^usr_[0-9a-z]{26}$/);

    expect((await t().call({ method: 'GET', url: `${users()}/${user.id}` })).json().email).toBe(
      'Ada@Example.com',
    );
    const patched = await t().call({
      method: 'PATCH',
      url: `${users()}/${user.id}`,
      payload: { name: 'Ada Lovelace', metadata: { team: 'core' } },
    });
    expect(patched.json()).toMatchObject({ name: 'Ada Lovelace', metadata: { team: 'core' } });
    expect((await t().call({ method: 'POST', url: `${users()}/${user.id}/disable` })).json().status).toBe(
      'disabled',
    );
    expect((await t().call({ method: 'POST', url: `${users()}/${user.id}/enable` })).json().status).toBe(
      'active',
    );
    expect((await t().call({ method: 'DELETE', url: `${users()}/${user.id}` })).statusCode).toBe(204);
    expect((await t().call({ method: 'GET', url: `${users()}/${user.id}` })).statusCode).toBe(404);

    const audit = await t().call({
      method: 'GET',
      url: `/v1/organizations/${t().org}/audit-logs?targetId=${user.id}`,
    });
    expect((audit.json().data as { type: string }[]).map((e) => e.type)).toEqual([
      'user.deleted',
      'user.enabled',
      'user.disabled',
      'user.updated',
      'user.created',
    ]);
  });

  it('refuses a duplicate email in the same organization, case-insensitively (409 conflict)', async () => {
    await t().call({ method: 'POST', url: users(), payload: { email: 'dup@example.com' } });
    const again = await t().call({ method: 'POST', url: users(), payload: { email: 'DUP@example.com' } });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('conflict');
  });

  it('allows the same email in another organization', async () => {
    const other = await t().createOrganization('Tenant with same emails');
    await t().call({ method: 'POST', url: users(), payload: { email: 'shared@example.com' } });
    const res = await t().call({
      method: 'POST',
      url: `/v1/organizations/${other.org}/users`,
      key: other.ownerKey,
      payload: { email: 'shared@example.com' },
    });
    expect(res.statusCode).toBe(201);
  });

  it('lists users with cursor pagination and filters by email and status', async () => {
    const org = await t().createOrganization('Paging');
    const call = t().orgClient(org);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await call('/users', { email: `u${i}@example.com` })).json().id);
    await call(`/users/${ids[1]}/disable`, {});
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await call(`/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.statusCode).toBe(200);
      const body = page.json();
      expect(body.data.length).toBeLessThanOrEqual(2);
      seen.push(...body.data.map((u: { id: string }) => u.id));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(ids);
    expect((await call('/users?email=U3@EXAMPLE.COM')).json().data.map((u: { id: string }) => u.id)).toEqual([
      ids[3],
    ]);
    expect((await call('/users?status=disabled')).json().data.map((u: { id: string }) => u.id)).toEqual([
      ids[1],
    ]);
    const bad = await call('/users?cursor=garbage');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('invalid_cursor');
  });

  it("answers 404 for another organization's user, even to that organization's owner key", async () => {
    const user = (
      await t().call({ method: 'POST', url: users(), payload: { email: 'private@example.com' } })
    ).json();
    const other = await t().createOrganization('Snooper');
    for (const [method, suffix] of [
      ['GET', ''],
      ['PATCH', ''],
      ['DELETE', ''],
      ['POST', '/disable'],
    ] as const) {
      const res = await t().call({
        method,
        url: `/v1/organizations/${other.org}/users/${user.id}${suffix}`,
        key: other.ownerKey,
        ...(method === 'PATCH' ? { payload: { name: 'pwned' } } : {}),
      });
      expect(res.statusCode, `${method} ${suffix}`).toBe(404);
    }
    expect((await t().call({ method: 'GET', url: `${users()}/${user.id}` })).json()).toMatchObject({
      name: null,
      status: 'active',
    });
  });

  it('creates a custom role, assigns it, and reports effective permissions', async () => {
    const role = await t().call({
      method: 'POST',
      url: roles(),
      payload: { key: 'auditor', name: 'Auditor', permissions: ['audit:read', 'users:read'] },
    });
    expect(role.statusCode).toBe(201);
    const user = (
      await t().call({ method: 'POST', url: users(), payload: { email: 'auditor@example.com' } })
    ).json();
    const viewer = (await t().call({ method: 'GET', url: roles() }))
      .json()
      .data.find((r: { key: string }) => r.key === 'viewer');
    expect(
      (await t().call({ method: 'PUT', url: `${users()}/${user.id}/roles/${role.json().id}` })).statusCode,
    ).toBe(200);
    expect(
      (await t().call({ method: 'PUT', url: `${users()}/${user.id}/roles/${viewer.id}` })).statusCode,
    ).toBe(200);
    const mine = (await t().call({ method: 'GET', url: `${users()}/${user.id}/roles` })).json();
    expect(mine.data.map((r: { key: string }) => r.key).sort()).toEqual(['auditor', 'viewer']);
    expect(mine.permissions).toContain('audit:read');
    expect(mine.permissions).toContain('webhooks:read');

    expect(
      (await t().call({ method: 'DELETE', url: `${users()}/${user.id}/roles/${role.json().id}` })).statusCode,
    ).toBe(204);
    const again = await t().call({ method: 'DELETE', url: `${users()}/${user.id}/roles/${role.json().id}` });
    expect(again.statusCode).toBe(404);

    const audit = await t().call({
      method: 'GET',
      url: `/v1/organizations/${t().org}/audit-logs?type=role.*`,
    });
    const types = (audit.json().data as { type: string; actor: { id: string } }[]).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['role.created', 'role.assigned', 'role.unassigned']));
  });

  it('lists the built-in roles and refuses to change or delete them (403 protected_resource)', async () => {
    const list = (await t().call({ method: 'GET', url: roles() })).json().data as {
      key: string;
      id: string;
      builtin: boolean;
    }[];
    expect(list.filter((r) => r.builtin).map((r) => r.key)).toEqual(
      expect.arrayContaining(['owner', 'admin', 'member', 'viewer']),
    );
    const owner = list.find((r) => r.key === 'owner')!;
    const patch = await t().call({
      method: 'PATCH',
      url: `${roles()}/${owner.id}`,
      payload: { permissions: [] },
    });
    expect(patch.statusCode).toBe(403);
    expect(patch.json().code).toBe('protected_resource');
    expect((await t().call({ method: 'DELETE', url: `${roles()}/${owner.id}` })).statusCode).toBe(403);
  });

  it('refuses roles or assignments that would grant permissions the caller lacks (403 permission_escalation)', async () => {
    const { key } = await t().createKey(['roles:write', 'roles:read', 'users:read']);
    const create = await t().call({
      method: 'POST',
      url: roles(),
      key,
      payload: { key: 'sneaky', name: 'Sneaky', permissions: ['users:read', 'api-keys:write'] },
    });
    expect(create.statusCode).toBe(403);
    expect(create.json().code).toBe('permission_escalation');
    const admin = (await t().call({ method: 'GET', url: roles() }))
      .json()
      .data.find((r: { key: string }) => r.key === 'admin');
    const user = (
      await t().call({ method: 'POST', url: users(), payload: { email: 'target@example.com' } })
    ).json();
    const assign = await t().call({ method: 'PUT', url: `${users()}/${user.id}/roles/${admin.id}`, key });
    expect(assign.statusCode).toBe(403);
    expect(assign.json().code).toBe('permission_escalation');
    expect((await t().call({ method: 'GET', url: `${users()}/${user.id}/roles` })).json().data).toEqual([]);
  });

  it('refuses a duplicate role key (409) and a malformed one (422)', async () => {
    await t().call({ method: 'POST', url: roles(), payload: { key: 'ops', name: 'Ops', permissions: [] } });
    expect(
      (
        await t().call({
          method: 'POST',
          url: roles(),
          payload: { key: 'ops', name: 'Ops 2', permissions: [] },
        })
      ).statusCode,
    ).toBe(409);
    const bad = await t().call({
      method: 'POST',
      url: roles(),
      payload: { key: 'Bad Key!', name: 'x', permissions: ['nope'] },
    });
    expect(bad.statusCode).toBe(422);
    expect(
      bad
        .json()
        .errors.map((e: { location: string }) => e.location)
        .sort(),
    ).toEqual(['/body/key', '/body/permissions/0']);
  });
});

describeEachDb('organizations', (t) => {
  it('creates a test organization whose keys are ak_test_, isolated from the root organization', async () => {
    const res = await t().call({
      method: 'POST',
      url: '/v1/organizations',
      payload: { name: 'Sandbox', mode: 'test' },
    });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.organization).toMatchObject({ name: 'Sandbox', mode: 'test', root: false });
    expect(body.ownerKey.key).toMatch(/^ak_test_/);
    const me = await t().call({ method: 'GET', url: '/v1/users/me', key: body.ownerKey.key });
    expect(me.json().organization.id).toBe(body.organization.id);
    expect(me.json().permissions).not.toContain('organizations:create');
    const sub = await t().call({
      method: 'POST',
      url: '/v1/organizations',
      key: body.ownerKey.key,
      payload: { name: 'x' },
    });
    expect(sub.statusCode).toBe(403);
    const peek = await t().call({
      method: 'GET',
      url: `/v1/organizations/${t().org}`,
      key: body.ownerKey.key,
    });
    expect(peek.statusCode).toBe(404);
  });

  it('gets and renames the organization', async () => {
    const res = await t().call({
      method: 'PATCH',
      url: `/v1/organizations/${t().org}`,
      payload: { name: 'Acme' },
    });
    expect(res.statusCode).toBe(200);
    expect((await t().call({ method: 'GET', url: `/v1/organizations/${t().org}` })).json()).toMatchObject({
      name: 'Acme',
      root: true,
      mode: 'live',
    });
  });

  it('serves the permission catalogue, including seed 002 names and Latchkey additions', async () => {
    const names = (await t().call({ method: 'GET', url: '/v1/permissions' }))
      .json()
      .data.map((p: { name: string }) => p.name);
    for (const p of [
      'users:read',
      'users:write',
      'users:delete',
      'organizations:read',
      'organizations:write',
      'roles:read',
      'roles:write',
      'idp:read',
      'idp:write',
      'audit:read',
      'webhooks:read',
      'webhooks:write',
      'api-keys:read',
      'api-keys:write',
      'api-keys:verify',
    ]) {
      expect(names).toContain(p);
    }
  });
});
