import { expect, it, vi } from 'vitest';
import { generateApiKey } from '../src/crypto/api-key-format.ts';
import { auditEvents, createKeyBody, me } from './helpers/api-keys.ts';
import { describeEachDb } from './helpers/each-db.ts';

describeEachDb('API key verification hot path', (t) => {
  it('refuses a malformed or bad-checksum key without touching the database', async () => {
    const real = await createKeyBody(t(), { permissions: ['users:read'] });
    const spy = vi.spyOn(t().services.store.apiKeys, 'findByHash');
    try {
      const last = real.key.at(-1) === 'A' ? 'B' : 'A';
      for (const bad of [
        'ak_live_tooshort',
        `${real.key.slice(0, -1)}${last}`,
        'Bearer-ish',
        `ak_live_${'!'.repeat(39)}`,
      ]) {
        const res = await me(t(), bad);
        expect(res.statusCode).toBe(401);
        expect(res.json().code).toBe('malformed_api_key');
      }
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('caches hits and misses: repeated requests look the key up once', async () => {
    const k = await createKeyBody(t(), { permissions: ['users:read'] });
    const unknown = generateApiKey('ak_live_');
    const spy = vi.spyOn(t().services.store.apiKeys, 'findByHash');
    try {
      for (let i = 0; i < 20; i++) expect((await me(t(), k.key)).statusCode).toBe(200);
      for (let i = 0; i < 20; i++) expect((await me(t(), unknown)).json().code).toBe('invalid_api_key');
      expect(spy).toHaveBeenCalledTimes(2);
    } finally {
      spy.mockRestore();
    }
  });

  it('sends one database read for concurrent requests with a key not yet cached', async () => {
    const k = await createKeyBody(t(), { permissions: ['users:read'] });
    const spy = vi.spyOn(t().services.store.apiKeys, 'findByHash');
    try {
      const answers = await Promise.all(Array.from({ length: 20 }, () => me(t(), k.key)));
      expect(answers.map((r) => r.statusCode)).toEqual(new Array(20).fill(200));
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('writes nothing per request: usage and api_key.used are counted in memory and written in one batch', async () => {
    const k = await createKeyBody(t(), { permissions: ['users:read'] });
    await me(t(), k.key);
    await t().services.batch.flush();
    const store = t().services.store;
    const tx = vi.spyOn(store, 'transaction');
    const append = vi.spyOn(store.events, 'append');
    const usage = vi.spyOn(store.apiKeys, 'addUsage');
    try {
      for (let i = 0; i < 50; i++) await me(t(), k.key, { remoteAddress: '192.0.2.1' });
      expect(tx).not.toHaveBeenCalled();
      expect(append).not.toHaveBeenCalled();
      expect(usage).not.toHaveBeenCalled();
      await t().services.batch.flush();
      expect(tx).toHaveBeenCalledTimes(1);
    } finally {
      tx.mockRestore();
      append.mockRestore();
      usage.mockRestore();
    }
    const used = await auditEvents(t(), 'api_key.used', { targetId: k.id });
    const fromBatch = used.filter((e) => e.ip === '192.0.2.1');
    expect(fromBatch).toHaveLength(1);
    expect(fromBatch[0]).toMatchObject({
      actor: { type: 'api_key', id: k.id },
      data: { endpoint: 'GET /v1/users/me', ip: '192.0.2.1', count: 50 },
    });
    const got = (
      await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/api-keys/${k.id}` })
    ).json();
    expect(got.requestCount).toBe(51);
  });

  it('records auth.failed with a partial key identifier, source IP and endpoint, never the whole key', async () => {
    const k = await createKeyBody(t(), { permissions: ['users:read'] });
    await t().call({ method: 'DELETE', url: `/v1/organizations/${t().org}/api-keys/${k.id}` });
    await me(t(), k.key, { remoteAddress: '198.51.100.20' });
    const [event] = await auditEvents(t(), 'auth.failed', { targetId: k.id });
    expect(event).toMatchObject({
      outcome: 'failure',
      ip: '198.51.100.20',
      data: {
        reason: 'api_key_revoked',
        endpoint: 'GET /v1/users/me',
        keyHint: `ak_live_${k.key.slice(8, 12)}…${k.key.slice(-4)}`,
      },
    });
    expect(JSON.stringify(event)).not.toContain(k.key);
  });
});
