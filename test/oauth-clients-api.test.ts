import { expect, it } from 'vitest';
import { describeEachDb } from './helpers/each-db.ts';

const base = (org: string) => `/v1/organizations/${org}/clients`;

describeEachDb('/v1/organizations/:org/clients', (t) => {
  let id: string;

  it('creates a confidential client and shows its secret once (201)', async () => {
    const res = await t().call({
      method: 'POST',
      url: base(t().org),
      payload: {
        name: 'Dashboard',
        type: 'confidential',
        redirectUris: ['https://app.example.com/callback'],
        scopes: ['openid', 'email', 'users:read'],
      },
    });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.secret).toMatch(/^lcs_[A-Za-z0-9_-]{43}$/);
    expect(body).toMatchObject({
      type: 'confidential',
      grantTypes: ['authorization_code', 'refresh_token'],
      resources: [`${t().config.publicUrl}/v1`],
      firstParty: false,
    });
    id = body.id;
    const got = await t().call({ method: 'GET', url: `${base(t().org)}/${id}` });
    expect(got.statusCode).toBe(200);
    expect(got.json().secret).toBeUndefined();
    expect(got.json().secretHint).toBe(`${body.secret.slice(0, 8)}…${body.secret.slice(-4)}`);
  });

  it('stores the secret encrypted, never in clear', async () => {
    const rows = await t().testDb.db.kysely.selectFrom('oauth_clients').select('secret_sealed').execute();
    for (const row of rows) expect(row.secret_sealed).toMatch(/^v1\./);
  });

  it('creates a public client without a secret', async () => {
    const res = await t().call({
      method: 'POST',
      url: base(t().org),
      payload: { name: 'SPA', type: 'public', redirectUris: ['https://spa.example.com/cb'] },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json().secret).toBeNull();
  });

  it('refuses client_credentials for a public client and redirect URIs with a fragment (422)', async () => {
    const pub = await t().call({
      method: 'POST',
      url: base(t().org),
      payload: { name: 'x', type: 'public', grantTypes: ['client_credentials'] },
    });
    expect(pub.statusCode).toBe(422);
    const frag = await t().call({
      method: 'POST',
      url: base(t().org),
      payload: { name: 'x', type: 'confidential', redirectUris: ['https://a.example.com/cb#x'] },
    });
    expect(frag.statusCode).toBe(422);
    const missing = await t().call({
      method: 'POST',
      url: base(t().org),
      payload: { name: 'x', type: 'confidential', grantTypes: ['authorization_code'] },
    });
    expect(missing.statusCode).toBe(422);
    const unknown = await t().call({
      method: 'POST',
      url: base(t().org),
      payload: { name: 'x', type: 'confidential', grantTypes: ['password'] },
    });
    expect(unknown.statusCode).toBe(422);
  });

  it('lists with a cursor, updates, rotates and deletes, writing audit events', async () => {
    const page = await t().call({ method: 'GET', url: `${base(t().org)}?limit=1` });
    expect(page.json().data).toHaveLength(1);
    expect(page.json().nextCursor).toBeTruthy();
    const next = await t().call({
      method: 'GET',
      url: `${base(t().org)}?limit=1&cursor=${page.json().nextCursor}`,
    });
    expect(next.json().data[0].id).not.toBe(page.json().data[0].id);

    const patched = await t().call({
      method: 'PATCH',
      url: `${base(t().org)}/${id}`,
      payload: { name: 'Dashboard v2', firstParty: true },
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ name: 'Dashboard v2', firstParty: true });

    const rotated = await t().call({ method: 'POST', url: `${base(t().org)}/${id}/rotate-secret` });
    expect(rotated.json().secret).toMatch(/^lcs_/);

    const del = await t().call({ method: 'DELETE', url: `${base(t().org)}/${id}` });
    expect(del.statusCode).toBe(204);
    const gone = await t().call({ method: 'GET', url: `${base(t().org)}/${id}` });
    expect(gone.statusCode).toBe(404);

    const events = await t().call({
      method: 'GET',
      url: `/v1/organizations/${t().org}/audit-logs?targetId=${id}`,
    });
    expect((events.json().data as { type: string }[]).map((e) => e.type)).toEqual([
      'client.deleted',
      'client.secret_rotated',
      'client.updated',
      'client.created',
    ]);
  });

  it('needs clients:write to create and clients:read to list (403 permission_denied)', async () => {
    const reader = await t().createKey(['clients:read']);
    const list = await t().call({ method: 'GET', url: base(t().org), key: reader.key });
    expect(list.statusCode).toBe(200);
    const create = await t().call({
      method: 'POST',
      url: base(t().org),
      payload: { name: 'x', type: 'public', redirectUris: ['https://a.example.com/cb'] },
      key: reader.key,
    });
    expect(create.statusCode).toBe(403);
  });
});
