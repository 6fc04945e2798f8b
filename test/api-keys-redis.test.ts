import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config/load.ts';
import { masterKeyFromBytes } from '../src/crypto/master-key.ts';
import { createFakeClock } from '../src/domain/shared/clock.ts';
import { createServices } from '../src/services.ts';
import { connectRedis, type RedisRuntime } from '../src/store/redis/connect.ts';
import { createStore } from '../src/store/store.ts';
import { createTestDb, dbTargets, type TestDb } from './helpers/databases.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function redisAvailable(): Promise<boolean> {
  const probe = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

// Runs where a Redis answers (TEST_REDIS_URL, default 127.0.0.1:6379); the in-memory paths are tested everywhere.
const available = await redisAvailable();

for (const target of dbTargets) {
  describe.skipIf(!available)(`two nodes sharing Redis (REDIS_URL) [${target}]`, () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-redis-'));
    const clock = createFakeClock(new Date().toISOString());
    const masterKey = masterKeyFromBytes(randomBytes(32));
    const nodes: { app: FastifyInstance; redis: RedisRuntime }[] = [];
    let testDb: TestDb;
    let ownerKey = '';
    let org = '';

    beforeAll(async () => {
      testDb = await createTestDb(target, dataDir);
      const config = loadConfig({ LATCHKEY_DATA_DIR: dataDir, LATCHKEY_USAGE_FLUSH_MS: '60000' });
      for (let i = 0; i < 2; i++) {
        const redis = await connectRedis(REDIS_URL, clock);
        const services = createServices({
          store: createStore(testDb.db),
          clock,
          masterKey,
          config,
          ...redis.services,
        });
        if (i === 0) {
          const created = await services.organizations.bootstrap();
          ownerKey = created?.ownerKey.key ?? '';
          org = created?.organization.id ?? '';
        }
        nodes.push({ app: await buildApp({ config, services, allowInjectedPlainHttp: true }), redis });
      }
    });
    afterAll(async () => {
      for (const n of nodes) {
        await n.app.close();
        await n.app.latchkey.services.batch.stop();
        await n.redis.close();
      }
      await testDb?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    const call = (node: number, key: string, extra: Record<string, unknown> = {}) =>
      nodes[node]!.app.inject({
        method: 'GET',
        url: '/v1/users/me',
        headers: { authorization: `Bearer ${key}` },
        ...extra,
      });
    const create = async (payload: Record<string, unknown>) => {
      const res = await nodes[0]!.app.inject({
        method: 'POST',
        url: `/v1/organizations/${org}/api-keys`,
        headers: { authorization: `Bearer ${ownerKey}` },
        payload: { name: 'shared', permissions: ['users:read'], ...payload },
      });
      expect(res.statusCode).toBe(201);
      return res.json() as { id: string; key: string };
    };

    it('shares one rate-limit budget per key across nodes', async () => {
      const k = await create({ rateLimit: { limit: 3, window: '1h' } });
      expect((await call(0, k.key)).statusCode).toBe(200);
      expect((await call(1, k.key)).statusCode).toBe(200);
      const third = await call(0, k.key);
      expect(third.statusCode).toBe(200);
      expect(third.headers['ratelimit-remaining']).toBe('0');
      const fourth = await call(1, k.key);
      expect(fourth.statusCode).toBe(429);
      expect(fourth.json().code).toBe('rate_limited');
      expect(Number(fourth.headers['retry-after'])).toBeGreaterThan(0);
    });

    it('a revoke on one node evicts the key cached on the other within a second', async () => {
      const k = await create({});
      expect((await call(1, k.key)).statusCode).toBe(200); // cached on node 1
      const res = await nodes[0]!.app.inject({
        method: 'DELETE',
        url: `/v1/organizations/${org}/api-keys/${k.id}`,
        headers: { authorization: `Bearer ${ownerKey}` },
      });
      expect(res.statusCode).toBe(204);
      let status = 0;
      const deadline = Date.now() + 1000;
      while (Date.now() < deadline) {
        status = (await call(1, k.key)).statusCode;
        if (status === 401) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(status).toBe(401);
      expect((await call(1, k.key)).json().code).toBe('api_key_revoked');
    });

    const owner = (node: number, method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) =>
      nodes[node]!.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${ownerKey}` },
        ...(payload ? { payload } : {}),
      });
    /** Polls `read` on node 1 for up to a second (the fake clock stands still: no cache TTL helps). */
    async function soon<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
      let value = await read();
      const deadline = Date.now() + 1000;
      while (!done(value) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        value = await read();
      }
      return value;
    }

    it('an OAuth settings change on one node is in force on the other within a second (mfaRequired, lockout)', async () => {
      const settings = async () =>
        (await owner(1, 'GET', `/v1/organizations/${org}/oauth-settings`)).json() as {
          mfaRequired: boolean;
          lockoutThreshold: number;
        };
      expect((await settings()).mfaRequired).toBe(false); // read, and cached, on node 1
      const res = await owner(0, 'PATCH', `/v1/organizations/${org}/oauth-settings`, {
        mfaRequired: true,
        lockoutThreshold: 4,
      });
      expect(res.statusCode, res.body).toBe(200);
      const seen = await soon(settings, (s) => s.mfaRequired);
      expect(seen).toMatchObject({ mfaRequired: true, lockoutThreshold: 4 });
    });

    it("a signing-key rotation on one node is published in the other node's JWKS within a second", async () => {
      const jwks = async () =>
        (
          (await nodes[1]!.app.inject({ method: 'GET', url: `/oidc/${org}/jwks` })).json() as {
            keys: { kid: string }[];
          }
        ).keys.map((k) => k.kid);
      const before = await jwks(); // node 1 builds and caches the organization's engine
      expect(before.length).toBeGreaterThan(0);
      const rotated = await owner(0, 'POST', `/v1/organizations/${org}/signing-keys/rotate`, {});
      expect(rotated.statusCode, rotated.body).toBe(201);
      const after = await soon(jwks, (kids) => kids.length > before.length);
      expect(after.length).toBe(before.length + 1);
      expect(after).toEqual(expect.arrayContaining(before));
    });
  });
}
