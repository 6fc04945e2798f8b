import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { masterKeyFromBytes } from '../../src/crypto/master-key.ts';
import { createFakeClock, type FakeClock } from '../../src/domain/shared/clock.ts';
import type { OutboundHttp } from '../../src/net/outbound.ts';
import { createServices, type Services } from '../../src/services.ts';
import { createStore } from '../../src/store/store.ts';
import { createTestDb, type DbTarget, type TestDb } from './databases.ts';

export interface TestApp {
  app: FastifyInstance;
  services: Services;
  clock: FakeClock;
  config: Readonly<Config>;
  testDb: TestDb;
  /** The bootstrap (root) organization and its owner key. */
  org: string;
  ownerKey: string;
  /** `inject()` with the owner key unless `key` says otherwise (`key: null` sends none). */
  call(options: InjectOptions & { key?: string | null }): Promise<LightMyRequestResponse>;
  /** Creates a key with these permissions (in the root organization unless `as` names another) and returns its secret. */
  createKey(
    permissions: string[],
    extra?: Record<string, unknown>,
    as?: { org: string; ownerKey: string },
  ): Promise<{ id: string; key: string }>;
  /** `GET` (or `POST` with a payload) under `/v1/organizations/{org}` with that organization's owner key. */
  orgClient(as: {
    org: string;
    ownerKey: string;
  }): (path: string, payload?: object) => Promise<LightMyRequestResponse>;
  /** A second organization (for tenancy tests) with its own owner key. */
  createOrganization(name?: string, mode?: 'live' | 'test'): Promise<{ org: string; ownerKey: string }>;
  close(): Promise<void>;
}

export async function createTestApp(
  target: DbTarget,
  options: { env?: Record<string, string>; clock?: FakeClock; outbound?: OutboundHttp } = {},
): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-test-'));
  const testDb = await createTestDb(target, dataDir);
  const config = loadConfig({ LATCHKEY_DATA_DIR: dataDir, LATCHKEY_USAGE_FLUSH_MS: '60000', ...options.env });
  const clock = options.clock ?? createFakeClock(new Date().toISOString());
  const services = createServices({
    store: createStore(testDb.db),
    clock,
    masterKey: masterKeyFromBytes(randomBytes(32)),
    config,
    ...(options.outbound ? { outbound: options.outbound } : {}),
  });
  const created = await services.organizations.bootstrap();
  if (!created) throw new Error('bootstrap created nothing on a fresh database');
  const app = await buildApp({
    config,
    services,
    allowInjectedPlainHttp: true,
    tokens: services.oauth.tokens,
  });

  const call: TestApp['call'] = ({ key, ...rest }) => {
    const headers: Record<string, string> = { ...((rest.headers as Record<string, string>) ?? {}) };
    const credential = key === undefined ? created.ownerKey.key : key;
    if (credential !== null && headers.authorization === undefined && headers['x-api-key'] === undefined) {
      headers.authorization = `Bearer ${credential}`;
    }
    return app.inject({ ...rest, headers });
  };

  return {
    app,
    services,
    clock,
    config,
    testDb,
    org: created.organization.id,
    ownerKey: created.ownerKey.key,
    call,
    async createKey(permissions, extra = {}, as) {
      const res = await call({
        method: 'POST',
        url: `/v1/organizations/${as?.org ?? created.organization.id}/api-keys`,
        payload: { name: `test key ${permissions.join(' ')}`.slice(0, 200), permissions, ...extra },
        key: as?.ownerKey ?? created.ownerKey.key,
      });
      if (res.statusCode !== 201) throw new Error(`createKey failed: ${res.statusCode} ${res.body}`);
      const body = res.json() as { id: string; key: string };
      return { id: body.id, key: body.key };
    },
    orgClient(as) {
      return (path, payload) =>
        call({
          method: payload ? 'POST' : 'GET',
          url: `/v1/organizations/${as.org}${path}`,
          key: as.ownerKey,
          ...(payload ? { payload } : {}),
        });
    },
    async createOrganization(name = 'Other organization', mode = 'live') {
      const res = await call({ method: 'POST', url: '/v1/organizations', payload: { name, mode } });
      if (res.statusCode !== 201) throw new Error(`createOrganization failed: ${res.statusCode} ${res.body}`);
      const body = res.json() as { organization: { id: string }; ownerKey: { key: string } };
      return { org: body.organization.id, ownerKey: body.ownerKey.key };
    },
    async close() {
      await app.close();
      await services.rules.stop();
      await services.batch.stop();
      await testDb.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
