import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createStore } from '../src/store/store.ts';
import { createTestDb, dbTargets, type TestDb } from './helpers/databases.ts';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function get(port: number, path: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        headers: { authorization: `Bearer ${key}` },
        rejectUnauthorized: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

for (const target of dbTargets) {
  describe(`latchkey serve: SIGTERM writes batched usage [${target}]`, () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-serve-'));
    let testDb: TestDb | undefined;
    let child: ChildProcess | undefined;
    afterAll(async () => {
      if (child && child.exitCode === null) child.kill('SIGKILL');
      await testDb?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('loses no usage count or api_key.used event on a graceful shutdown', async () => {
      // A fresh database the child bootstraps itself (the owner key is printed once to its stderr).
      testDb = await createTestDb(target, dataDir);
      const port = await freePort();
      child = spawn(process.execPath, ['bin/latchkey.mjs', 'serve'], {
        env: {
          ...process.env,
          LATCHKEY_DATA_DIR: dataDir,
          LATCHKEY_PORT: String(port),
          LATCHKEY_HOST: '127.0.0.1',
          LATCHKEY_USAGE_FLUSH_MS: '600000',
          LATCHKEY_LOG_LEVEL: 'silent',
          ...(testDb.url ? { DATABASE_URL: testDb.url } : {}),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const deadline = Date.now() + 30_000;
      while (!/Latchkey is listening/.test(stderr)) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`server did not start:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const ownerKey = /owner key:\s+(\S+)/.exec(stderr)?.[1];
      expect(ownerKey).toMatch(/^ak_live_/);

      const N = 25;
      for (let i = 0; i < N; i++) expect(await get(port, '/v1/users/me', ownerKey as string)).toBe(200);

      const store = createStore(testDb.db);
      const before = await testDb.db.kysely.selectFrom('api_keys').select('request_count').execute();
      expect(before.map((r) => Number(r.request_count))).toEqual([0]);

      const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);

      const after = await testDb.db.kysely
        .selectFrom('api_keys')
        .select(['request_count', 'last_ip'])
        .execute();
      expect(after.map((r) => Number(r.request_count))).toEqual([N]);
      expect(after[0]?.last_ip).toBe('127.0.0.1');
      const org = (await testDb.db.kysely.selectFrom('organizations').select('id').executeTakeFirstOrThrow())
        .id;
      const used = await store.events.list(org, { type: 'api_key.used', limit: 100 });
      expect(used.reduce((n, e) => n + Number(e.data.count), 0)).toBe(N);
    }, 60_000);
  });
}
