import { expect, it } from 'vitest';
import { describeEachDb } from './helpers/each-db.ts';

describeEachDb('problem+json errors', (t) => {
  const users = () => `/v1/organizations/${t().org}/users`;
  const countUsers = async () =>
    (await t().call({ method: 'GET', url: `${users()}?limit=200` })).json().data.length;

  it('answers malformed JSON with 400 malformed_json and changes nothing', async () => {
    const before = await countUsers();
    const res = await t().call({
      method: 'POST',
      url: users(),
      payload: '{"email": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ status: 400, code: 'malformed_json', title: 'Malformed JSON' });
    expect(res.json().requestId).toMatch(/^req_/);
    expect(await countUsers()).toBe(before);
  });

  it('answers a non-JSON content type with 415', async () => {
    const res = await t().call({
      method: 'POST',
      url: users(),
      payload: 'email=a@b.c',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.statusCode).toBe(415);
    expect(res.json().code).toBe('unsupported_media_type');
  });

  it('answers an oversize body with 413', async () => {
    const res = await t().call({
      method: 'POST',
      url: users(),
      payload: JSON.stringify({ email: 'big@example.com', metadata: { blob: 'x'.repeat(1_100_000) } }),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('payload_too_large');
  });

  it('answers unknown fields and wrong types with 422 listing every bad field', async () => {
    const before = await countUsers();
    const res = await t().call({
      method: 'POST',
      url: users(),
      payload: { email: 42, name: 'x', admin: true, role: 'owner' },
    });
    expect(res.statusCode).toBe(422);
    const body = res.json();
    expect(body.code).toBe('validation_failed');
    const locations = body.errors.map((e: { location: string }) => e.location).sort();
    expect(locations).toEqual(['/body/admin', '/body/email', '/body/role']);
    expect(body.errors.find((e: { location: string }) => e.location === '/body/admin').message).toBe(
      'unknown field',
    );
    expect(await countUsers()).toBe(before);
  });

  it('does not coerce JSON body types ("5" is not a number)', async () => {
    const res = await t().call({
      method: 'POST',
      url: `/v1/organizations/${t().org}/api-keys`,
      payload: { name: 123, permissions: 'users:read' },
    });
    expect(res.statusCode).toBe(422);
    expect(
      res
        .json()
        .errors.map((e: { location: string }) => e.location)
        .sort(),
    ).toEqual(['/body/name', '/body/permissions']);
  });

  it('answers an unknown route with 404 route_not_found and a bad id with 422', async () => {
    expect((await t().call({ method: 'GET', url: '/v1/nothing-here' })).json().code).toBe('route_not_found');
    const badId = await t().call({ method: 'GET', url: `${users()}/not-an-id` });
    expect(badId.statusCode).toBe(422);
    expect(badId.json().errors[0].location).toBe('/params/id');
  });

  it('refuses plain HTTP forwarded by a trusted proxy (403 https_required), and ignores the header from others', async () => {
    const { createTestApp } = await import('./helpers/app.ts');
    const proxied = await createTestApp(t().testDb.target, { env: { LATCHKEY_TRUST_PROXY: '10.0.0.0/8' } });
    try {
      const viaProxyHttp = await proxied.call({
        method: 'GET',
        url: '/v1/users/me',
        remoteAddress: '10.1.2.3',
        headers: { 'x-forwarded-proto': 'http', 'x-forwarded-for': '203.0.113.5' },
      });
      expect(viaProxyHttp.statusCode).toBe(403);
      expect(viaProxyHttp.json().code).toBe('https_required');
      const viaProxyHttps = await proxied.call({
        method: 'GET',
        url: '/v1/users/me',
        remoteAddress: '10.1.2.3',
        headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.5' },
      });
      expect(viaProxyHttps.statusCode).toBe(200);
      const spoofed = await proxied.call({
        method: 'GET',
        url: '/v1/users/me',
        remoteAddress: '198.51.100.1',
        headers: { 'x-forwarded-proto': 'http' },
      });
      expect(spoofed.statusCode).toBe(200);
    } finally {
      await proxied.close();
    }
  });
});
