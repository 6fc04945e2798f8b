import { expect, it } from 'vitest';
import { auditEvents, createKeyBody, keysUrl, me } from './helpers/api-keys.ts';
import { describeEachDb } from './helpers/each-db.ts';

const HOUR = 3_600_000;

describeEachDb('POST /v1/organizations/:org/api-keys/:id/rotate', (t) => {
  it('with a one-hour overlap both keys work, then the old one stops (fake clock)', async () => {
    const old = await createKeyBody(t(), {
      name: 'HR sync',
      description: 'Workday',
      permissions: ['users:read', 'users:write'],
      ipAllowlist: ['127.0.0.0/8'],
      rateLimit: { limit: 1000, window: '1m' },
      metadata: { owner: 'hr' },
      expiresIn: '30d',
    });
    const res = await t().call({
      method: 'POST',
      url: `${keysUrl(t(), old.id)}/rotate`,
      payload: { overlap: '1h' },
    });
    expect(res.statusCode).toBe(201);
    const rotated = res.json();
    expect(rotated.key).not.toBe(old.key);
    expect(rotated).toMatchObject({
      name: 'HR sync',
      description: 'Workday',
      permissions: ['users:read', 'users:write'],
      ipAllowlist: ['127.0.0.0/8'],
      rateLimit: { limit: 1000, window: '1m' },
      metadata: { owner: 'hr' },
      rotatedFromId: old.id,
      previous: { id: old.id, rotatedToId: rotated.id, status: 'active' },
    });
    // The new key keeps the old lifetime; the old one ends with the overlap.
    expect(Date.parse(rotated.expiresAt) - Date.parse(rotated.createdAt)).toBe(30 * 86_400_000);
    expect(Date.parse(rotated.previous.expiresAt) - t().clock.now().getTime()).toBe(HOUR);

    expect((await me(t(), old.key)).statusCode).toBe(200);
    expect((await me(t(), rotated.key)).statusCode).toBe(200);

    t().clock.advance(HOUR - 1000);
    expect((await me(t(), old.key)).statusCode).toBe(200);
    expect((await me(t(), rotated.key)).statusCode).toBe(200);

    t().clock.advance(1000);
    const after = await me(t(), old.key);
    expect(after.statusCode).toBe(401);
    expect(after.json().code).toBe('api_key_expired');
    expect((await me(t(), rotated.key)).statusCode).toBe(200);

    const [event] = await auditEvents(t(), 'api_key.rotated', { targetId: old.id });
    expect(event?.data).toMatchObject({ keyId: old.id, newKeyId: rotated.id, overlapSeconds: 3600 });
  });

  it('defaults to a 24-hour overlap', async () => {
    const old = await createKeyBody(t(), { permissions: ['users:read'] });
    const res = await t().call({ method: 'POST', url: `${keysUrl(t(), old.id)}/rotate` });
    expect(res.statusCode).toBe(201);
    expect(Date.parse(res.json().previous.expiresAt) - t().clock.now().getTime()).toBe(24 * HOUR);
    expect(res.json().expiresAt).toBeNull();
  });

  it('with overlap "0" the old key stops at once', async () => {
    const old = await createKeyBody(t(), { permissions: ['users:read'] });
    const res = await t().call({
      method: 'POST',
      url: `${keysUrl(t(), old.id)}/rotate`,
      payload: { overlap: '0' },
    });
    expect(res.statusCode).toBe(201);
    expect((await me(t(), old.key)).json().code).toBe('api_key_expired');
    expect((await me(t(), res.json().key)).statusCode).toBe(200);
  });

  it('links both keys, and listings show which of the two is still being used', async () => {
    const old = await createKeyBody(t(), { name: 'linked', permissions: ['users:read'] });
    const rotated = (
      await t().call({ method: 'POST', url: `${keysUrl(t(), old.id)}/rotate`, payload: { overlap: '1h' } })
    ).json();
    const pair = async () => {
      const list = (await t().call({ method: 'GET', url: `${keysUrl(t())}?limit=200` })).json().data as {
        id: string;
        usedSinceRotation: boolean | null;
        rotatedToId: string | null;
        rotatedFromId: string | null;
      }[];
      return { old: list.find((k) => k.id === old.id), new: list.find((k) => k.id === rotated.id) };
    };
    let p = await pair();
    expect(p.old).toMatchObject({ rotatedToId: rotated.id, usedSinceRotation: false });
    expect(p.new).toMatchObject({ rotatedFromId: old.id, usedSinceRotation: false });

    t().clock.advance(1000);
    await me(t(), old.key);
    p = await pair();
    expect(p.old?.usedSinceRotation).toBe(true);
    expect(p.new?.usedSinceRotation).toBe(false);

    await me(t(), rotated.key);
    await t().services.batch.flush();
    p = await pair();
    expect(p.new?.usedSinceRotation).toBe(true);
  });

  it('refuses to rotate a key twice, a revoked key, and a key whose permissions the caller lacks', async () => {
    const old = await createKeyBody(t(), { permissions: ['users:read'] });
    expect((await t().call({ method: 'POST', url: `${keysUrl(t(), old.id)}/rotate` })).statusCode).toBe(201);
    const twice = await t().call({ method: 'POST', url: `${keysUrl(t(), old.id)}/rotate` });
    expect(twice.statusCode).toBe(409);
    expect(twice.json().code).toBe('conflict');

    const revoked = await createKeyBody(t(), { permissions: ['users:read'] });
    await t().call({ method: 'DELETE', url: keysUrl(t(), revoked.id) });
    expect((await t().call({ method: 'POST', url: `${keysUrl(t(), revoked.id)}/rotate` })).statusCode).toBe(
      409,
    );

    const admin = await createKeyBody(t(), { scope: 'admin' });
    const weak = await t().createKey(['api-keys:write']);
    const res = await t().call({ method: 'POST', url: `${keysUrl(t(), admin.id)}/rotate`, key: weak.key });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('permission_escalation');
  });

  it('refuses a bad overlap and unknown fields (422)', async () => {
    const old = await createKeyBody(t(), { permissions: ['users:read'] });
    const bad = await t().call({
      method: 'POST',
      url: `${keysUrl(t(), old.id)}/rotate`,
      payload: { overlap: 'later' },
    });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().errors[0].location).toBe('/body/overlap');
    const unknown = await t().call({
      method: 'POST',
      url: `${keysUrl(t(), old.id)}/rotate`,
      payload: { keep: true },
    });
    expect(unknown.json().errors).toEqual([{ location: '/body/keep', message: 'unknown field' }]);
  });
});
