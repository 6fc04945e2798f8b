import { expect, it } from 'vitest';
import { auditEvents, createKeyBody, me } from './helpers/api-keys.ts';
import { describeEachDb } from './helpers/each-db.ts';

describeEachDb('API key expiry', (t) => {
  it('answers 401 api_key_expired once a key is past its expiry, cached or not', async () => {
    const { key, id } = await createKeyBody(t(), { permissions: ['users:read'], expiresIn: '12h' });
    expect((await me(t(), key)).statusCode).toBe(200);
    t().clock.advance(12 * 3_600_000);
    const res = await me(t(), key);
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('api_key_expired');
    expect(res.headers['www-authenticate']).toBeDefined();
    const got = await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/api-keys/${id}` });
    expect(got.json().status).toBe('expired');
    const failed = await auditEvents(t(), 'auth.failed', { targetId: id });
    expect(failed[0]?.data).toMatchObject({ reason: 'api_key_expired' });
    expect(JSON.stringify(failed)).not.toContain(key);
  });

  it('the sweep writes api_key.expired exactly once per key, even when sweeps run concurrently', async () => {
    const a = await createKeyBody(t(), { name: 'short-lived', permissions: ['users:read'], expiresIn: '1h' });
    const b = await createKeyBody(t(), { permissions: ['users:read'], expiresIn: '3h' });
    const sweeper = t().services.apiKeySweeper;
    await sweeper.sweep();
    expect(await auditEvents(t(), 'api_key.expired', { targetId: a.id })).toHaveLength(0);

    t().clock.advance(2 * 3_600_000);
    await Promise.all([sweeper.sweep(), sweeper.sweep()]);
    await sweeper.sweep();
    const events = await auditEvents(t(), 'api_key.expired', { targetId: a.id });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor: { type: 'system' },
      data: { keyId: a.id, name: 'short-lived', expiresAt: a.expiresAt },
    });
    expect(await auditEvents(t(), 'api_key.expired', { targetId: b.id })).toHaveLength(0);

    t().clock.advance(2 * 3_600_000);
    await sweeper.sweep();
    await sweeper.sweep();
    expect(await auditEvents(t(), 'api_key.expired', { targetId: b.id })).toHaveLength(1);
    expect(await auditEvents(t(), 'api_key.expired', { targetId: a.id })).toHaveLength(1);
  });

  it('lists expired keys with status=expired', async () => {
    const a = await createKeyBody(t(), { permissions: ['users:read'], expiresIn: '1m' });
    t().clock.advance(120_000);
    const list = await t().call({
      method: 'GET',
      url: `/v1/organizations/${t().org}/api-keys?status=expired&limit=200`,
    });
    expect(list.json().data.map((k: { id: string }) => k.id)).toContain(a.id);
    const active = await t().call({
      method: 'GET',
      url: `/v1/organizations/${t().org}/api-keys?status=active&limit=200`,
    });
    expect(active.json().data.map((k: { id: string }) => k.id)).not.toContain(a.id);
  });
});
