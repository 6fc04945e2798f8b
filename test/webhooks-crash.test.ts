import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDb, dbTargets, type TestDb } from './helpers/databases.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: the test reads loosely shaped JSON answers
  json: any;
}

const BIN = join(import.meta.dirname, '..', 'bin', 'latchkey.mjs');

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

function start(command: string, env: NodeJS.ProcessEnv, ready: RegExp): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${command} did not start:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited ${code}:\n${output}`));
    });
  });
}

function call(port: number, key: string, method: string, path: string, body: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? '' : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        rejectUnauthorized: false, // the server's self-signed certificate
        headers: {
          authorization: `Bearer ${key}`,
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }
            : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : null }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

for (const target of dbTargets) {
  describe(`SIGKILL between commit and delivery [${target}]`, () => {
    let dataDir: string;
    let testDb: TestDb | undefined;
    let receiver: Receiver | undefined;
    const children: ChildProcess[] = [];
    afterAll(async () => {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
      await receiver?.close();
      await testDb?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('delivers the committed event after a restart (latchkey worker)', async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'latchkey-crash-'));
      testDb = await createTestDb(target, dataDir);
      receiver = await startReceiver();
      const port = await freePort();
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        LATCHKEY_DATA_DIR: dataDir,
        LATCHKEY_PORT: String(port),
        LATCHKEY_OUTBOUND_ALLOWLIST: '127.0.0.1',
        LATCHKEY_LOG_LEVEL: 'warn',
        // The dispatcher in `serve` polls once at start and then sleeps: nothing it commits is sent before the kill.
        LATCHKEY_DISPATCH_INTERVAL_MS: '600000',
        ...(testDb.url ? { DATABASE_URL: testDb.url } : {}),
      };
      execFileSync(process.execPath, [BIN, 'bootstrap', '--out', join(dataDir, 'owner.key')], { env });
      const key = readFileSync(join(dataDir, 'owner.key'), 'utf8').trim();
      const me = await (async () => {
        const server = await start('serve', env, /Latchkey is listening/);
        children.push(server);
        return server;
      })();

      const org = (await call(port, key, 'GET', '/v1/users/me', undefined)).json.organization.id as string;
      expect(org).toMatch(/^org_/);
      const ep = await call(port, key, 'POST', `/v1/organizations/${org}/webhooks`, {
        url: receiver.url,
        eventTypes: ['user.created'],
      });
      expect(ep.status).toBe(201);
      const user = await call(port, key, 'POST', `/v1/organizations/${org}/users`, {
        email: 'survivor@example.com',
      });
      expect(user.status).toBe(201); // committed
      me.kill('SIGKILL');
      await exited(me);
      expect(receiver.received).toHaveLength(0);

      const worker = await start(
        'worker',
        { ...env, LATCHKEY_DISPATCH_INTERVAL_MS: '50' },
        /dispatching events/,
      );
      children.push(worker);
      await receiver.waitFor(1, 20_000);
      expect(receiver.received.map((r) => r.json.type)).toEqual(['user.created']);
      expect(receiver.received[0]?.json.data.email).toBe('survivor@example.com');
      expect(receiver.verifyAll(ep.json.secret)).toHaveLength(1);
      worker.kill('SIGTERM');
      expect(await exited(worker)).toBe(0);
    }, 90_000);
  });
}
