import { type ChildProcess, spawn } from 'node:child_process';
import type { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.ts';
import { createTestDb, dbTargets, type TestDb } from './helpers/databases.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'latchkey.mjs');

interface Server {
  child: ChildProcess;
  port: number;
  fingerprint: string;
  ownerKey: string | undefined;
  output: () => string;
}

const children = new Set<ChildProcess>();
// A failed assertion must not leave a server running after the run.
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** Starts `latchkey serve` on an ephemeral port and waits for its banner. */
function startServer(env: Record<string, string | undefined>): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        LATCHKEY_PORT: '0',
        LATCHKEY_LOG_LEVEL: 'warn',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    child.on('exit', () => children.delete(child));
    let err = '';
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${err}`)), 30_000);
    child.stdout?.on('data', (d) => {
      out += d;
    });
    child.stderr?.on('data', (d) => {
      err += d;
      const port = /listening on https:\/\/[^:]+:(\d+)/.exec(err)?.[1];
      const fingerprint = /SHA-256 fingerprint: (\S+)/.exec(err)?.[1];
      if (port && fingerprint) {
        clearTimeout(timer);
        resolve({
          child,
          port: Number(port),
          fingerprint,
          ownerKey: /owner key:\s+(\S+)/.exec(err)?.[1],
          output: () => out + err,
        });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${err}`));
    });
  });
}

function stop(server: Server): Promise<number | null> {
  return new Promise((resolve) => {
    server.child.removeAllListeners('exit');
    server.child.on('exit', (code) => resolve(code));
    server.child.kill('SIGTERM');
  });
}

function httpsGet(
  port: number,
  path: string,
  key?: string,
): Promise<{ status: number; body: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        rejectUnauthorized: false,
        headers: key ? { authorization: `Bearer ${key}` } : {},
      },
      (res) => {
        const cert = (res.socket as TLSSocket).getPeerX509Certificate?.() as X509Certificate | undefined;
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body, fingerprint: cert?.fingerprint256 ?? '' });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

for (const target of dbTargets) {
  describe(`latchkey serve over real TLS [${target}]`, () => {
    const dirs: string[] = [];
    const dbs: TestDb[] = [];
    afterAll(async () => {
      for (const db of dbs) await db.drop();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    async function freshEnv() {
      const dir = mkdtempSync(join(tmpdir(), 'latchkey-serve-'));
      dirs.push(dir);
      const testDb = await createTestDb(target, dir);
      dbs.push(testDb);
      if (target === 'sqlite') await testDb.db.close();
      return { LATCHKEY_DATA_DIR: dir, DATABASE_URL: testDb.url };
    }

    it('bootstraps once, prints the owner key, serves HTTPS with the printed certificate, and never plain HTTP', async () => {
      const env = await freshEnv();
      const first = await startServer(env);
      try {
        expect(first.ownerKey).toMatch(/^ak_live_/);
        const me = await httpsGet(first.port, '/v1/users/me', first.ownerKey);
        expect(me.status).toBe(200);
        expect(JSON.parse(me.body).type).toBe('api_key');
        expect(me.fingerprint).toBe(first.fingerprint);
        expect((await httpsGet(first.port, '/healthz')).status).toBe(200);

        const plain = await new Promise<string>((resolve) => {
          const req = httpRequest({ host: '127.0.0.1', port: first.port, path: '/v1/users/me' }, (res) =>
            resolve(`status ${res.statusCode}`),
          );
          req.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code}`));
          req.end();
        });
        expect(plain).not.toBe('status 200');
        expect(plain.startsWith('status 2')).toBe(false);
      } finally {
        expect(await stop(first)).toBe(0);
      }
      // The key went to the terminal only: not into the data directory or the database.
      const keyText = first.ownerKey!;
      if (target === 'sqlite')
        expect(readFileSync(join(env.LATCHKEY_DATA_DIR, 'latchkey.db')).includes(keyText)).toBe(false);
      expect(first.output().split(keyText).length - 1).toBe(1);

      const second = await startServer(env);
      try {
        expect(second.ownerKey).toBeUndefined();
        expect(second.fingerprint).toBe(first.fingerprint);
        expect((await httpsGet(second.port, '/v1/users/me', keyText)).status).toBe(200);
      } finally {
        await stop(second);
      }
    });

    it('bootstrap --out writes the key to a 0600 file, and a second run creates nothing', async () => {
      const env = await freshEnv();
      const out = join(env.LATCHKEY_DATA_DIR, 'owner.key');
      const first = await runCli(['bootstrap', '--out', out], env);
      expect(first.code).toBe(0);
      expect(first.stdout).toContain('created organization org_');
      expect(statSync(out).mode & 0o777).toBe(0o600);
      const key = readFileSync(out, 'utf8').trim();
      expect(key).toMatch(/^ak_live_/);
      expect(first.stdout + first.stderr).not.toContain(key);
      const second = await runCli(['bootstrap', '--out', `${out}.2`], env);
      expect(second.code).toBe(0);
      expect(second.stdout).toContain('already bootstrapped');
      const migrate = await runCli(['migrate'], env);
      expect(migrate.code).toBe(0);
    });
  });
}
