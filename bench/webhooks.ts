/**
 * Webhook delivery benchmark: from an API change (POST /v1/organizations/:org/users
 * through the whole HTTP stack) to a delivery verified by a Standard Webhooks
 * receiver in another process on 127.0.0.1.
 *
 *   npm run bench:webhooks                      (SQLite)
 *   BENCH_DATABASE_URL=postgres://… npm run bench:webhooks   (PostgreSQL too)
 *
 * 1. Throughput: BURST changes as fast as the API takes them; events per
 *    second until the last one is verified.
 *
 * BENCH_DISPATCHER=worker (default) runs the dispatcher as `latchkey worker`
 * in its own process, next to the API process, as a deployment would;
 * `inprocess` runs it inside the API process, as `latchkey serve` alone does.
 * 2. Latency: a steady RATE changes per second for DURATION seconds; p50, p99
 *    and max of change-start to verified-delivery.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { applyV8Flags } from '../bin/v8-flags.mjs';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config/load.ts';
import { masterKeyFromBytes } from '../src/crypto/master-key.ts';
import { systemClock } from '../src/domain/shared/clock.ts';
import { createServices } from '../src/services.ts';
import { type Db, openDatabase, openSqlite } from '../src/store/db.ts';
import { migrateToLatest } from '../src/store/migrate.ts';
import { createStore } from '../src/store/store.ts';

// Latchkey runs in this process: with the V8 flags `npm start` sets (bin/v8-flags.mjs).
applyV8Flags();

const BURST = Number(process.env.BENCH_BURST ?? 2000);
const DISPATCHER = process.env.BENCH_DISPATCHER === 'inprocess' ? 'inprocess' : 'worker';
const BIN = join(import.meta.dirname, '..', 'bin', 'latchkey.mjs');
const RATE = Number(process.env.BENCH_RATE ?? 200);
const DURATION_S = Number(process.env.BENCH_DURATION ?? 20);
const now = () => performance.timeOrigin + performance.now();

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

async function openTarget(
  target: 'sqlite' | 'postgres',
  dir: string,
): Promise<{ db: Db; drop(): Promise<void>; url: string | undefined }> {
  if (target === 'sqlite') {
    const db = openSqlite(join(dir, 'latchkey.db'));
    return { db, drop: () => db.close(), url: undefined };
  }
  const base = process.env.BENCH_DATABASE_URL as string;
  const name = `latchkey_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const db = openDatabase({ databaseUrl: url.toString(), dataDir: dir });
  return {
    db,
    url: url.toString(),
    async drop() {
      await db.close();
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

async function run(target: 'sqlite' | 'postgres') {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-'));
  const { db, drop, url } = await openTarget(target, dir);
  await migrateToLatest(db);
  const config = loadConfig({ LATCHKEY_DATA_DIR: dir, LATCHKEY_OUTBOUND_ALLOWLIST: '127.0.0.1' });
  const masterKey = randomBytes(32);
  const services = createServices({
    store: createStore(db),
    clock: systemClock,
    masterKey: masterKeyFromBytes(masterKey),
    config,
    onBackgroundError: (e) => console.error('background error:', e),
  });
  const boot = await services.organizations.bootstrap();
  if (!boot) throw new Error('bootstrap failed');
  const app = await buildApp({ config, services, allowInjectedPlainHttp: true });
  const org = boot.organization.id;
  const auth = { authorization: `Bearer ${boot.ownerKey.key}` };

  const receiver: ChildProcess = fork(join(import.meta.dirname, 'webhook-receiver.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const received = new Map<string, number>();
  let badSignatures = 0;
  let duplicates = 0;
  const port = await new Promise<number>((resolve) => {
    receiver.on(
      'message',
      (m: { port?: number; received?: { key: string; at: number }[]; failures?: number }) => {
        if (m.port) resolve(m.port);
        for (const r of m.received ?? []) {
          if (received.has(r.key)) duplicates++;
          received.set(r.key, r.at);
        }
        badSignatures += m.failures ?? 0;
      },
    );
  });
  const ep = await app.inject({
    method: 'POST',
    url: `/v1/organizations/${org}/webhooks`,
    headers: auth,
    payload: { url: `http://127.0.0.1:${port}/hook`, eventTypes: ['user.created'] },
  });
  receiver.send({ secret: ep.json().secret });
  let worker: ChildProcess | undefined;
  if (DISPATCHER === 'inprocess') services.dispatcher.start();
  else {
    worker = spawn(process.execPath, [BIN, 'worker'], {
      env: {
        PATH: process.env.PATH,
        LATCHKEY_DATA_DIR: dir,
        LATCHKEY_MASTER_KEY: masterKey.toString('base64'),
        LATCHKEY_OUTBOUND_ALLOWLIST: '127.0.0.1',
        LATCHKEY_LOG_LEVEL: 'warn',
        ...(url ? { DATABASE_URL: url } : {}),
        // e.g. `--cpu-prof --cpu-prof-dir=/tmp/worker-profile` to profile the dispatcher.
        ...(process.env.BENCH_WORKER_NODE_OPTIONS
          ? { NODE_OPTIONS: process.env.BENCH_WORKER_NODE_OPTIONS }
          : {}),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      let err = '';
      worker?.stderr?.on('data', (c: Buffer) => {
        err += c.toString();
        if (err.includes('dispatching events')) resolve();
      });
      worker?.once('exit', (code) => reject(new Error(`worker exited ${code}: ${err}`)));
    });
  }

  const started = new Map<string, number>();
  const committed = new Map<string, number>();
  async function change(key: string): Promise<void> {
    started.set(key, now());
    const res = await app.inject({
      method: 'POST',
      url: `/v1/organizations/${org}/users`,
      headers: auth,
      payload: { email: key },
    });
    if (res.statusCode !== 201) throw new Error(`change failed: ${res.statusCode} ${res.body}`);
    committed.set(key, now());
  }
  async function waitAll(keys: string[], timeoutMs: number): Promise<void> {
    const deadline = now() + timeoutMs;
    while (keys.some((k) => !received.has(k))) {
      if (now() > deadline)
        throw new Error(`${keys.filter((k) => !received.has(k)).length} deliveries missing`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  // 1. Throughput.
  const burstKeys = Array.from({ length: BURST }, (_, i) => `burst-${i}@bench.example`);
  const t0 = now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < burstKeys.length) await change(burstKeys[next++] as string);
    }),
  );
  const apiDone = now();
  await waitAll(burstKeys, 120_000);
  const t1 = Math.max(...burstKeys.map((k) => received.get(k) as number));
  const throughput = {
    events: BURST,
    apiSeconds: (apiDone - t0) / 1000,
    seconds: (t1 - t0) / 1000,
    eventsPerSecond: Math.round(BURST / ((t1 - t0) / 1000)),
  };

  // 2. Latency at a steady rate (each change starts on schedule, whatever the others do).
  const total = RATE * DURATION_S;
  const steadyKeys = Array.from({ length: total }, (_, i) => `steady-${i}@bench.example`);
  const s0 = now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = s0 + (i * 1000) / RATE;
    const wait = due - now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(change(steadyKeys[i] as string));
  }
  await Promise.all(inflight);
  await waitAll(steadyKeys, 60_000);
  const latencies = steadyKeys
    .map((k) => (received.get(k) as number) - (started.get(k) as number))
    .sort((a, b) => a - b);
  // The pipeline alone: from the API's answer (the change is committed) to the verified delivery.
  const afterCommit = steadyKeys
    .map((k) => Math.max(0, (received.get(k) as number) - (committed.get(k) as number)))
    .sort((a, b) => a - b);
  const apiLatencies = steadyKeys
    .map((k) => (committed.get(k) as number) - (started.get(k) as number))
    .sort((a, b) => a - b);
  const steady = {
    rate: RATE,
    seconds: DURATION_S,
    events: total,
    p50Ms: Math.round(percentile(latencies, 50)),
    p90Ms: Math.round(percentile(latencies, 90)),
    p99Ms: Math.round(percentile(latencies, 99)),
    maxMs: Math.round(latencies[latencies.length - 1] as number),
    commitToDelivery: {
      p50Ms: Math.round(percentile(afterCommit, 50)),
      p99Ms: Math.round(percentile(afterCommit, 99)),
    },
    api: { p50Ms: Math.round(percentile(apiLatencies, 50)), p99Ms: Math.round(percentile(apiLatencies, 99)) },
  };

  await services.dispatcher.stop();
  if (worker) {
    worker.kill('SIGTERM');
    await new Promise((r) => worker?.once('exit', r));
  }
  receiver.kill();
  await app.close();
  await services.batch.stop();
  await drop();
  rmSync(dir, { recursive: true, force: true });
  return { target, dispatcher: DISPATCHER, throughput, steady, badSignatures, duplicates };
}

const targets: ('sqlite' | 'postgres')[] = process.env.BENCH_DATABASE_URL
  ? ['sqlite', 'postgres']
  : ['sqlite'];
const results = [];
for (const target of targets) {
  process.stderr.write(`webhooks bench on ${target}…\n`);
  const r = await run(target);
  process.stderr.write(`${JSON.stringify(r)}\n`);
  results.push(r);
}
const meta = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  cpu: cpus()[0]?.model,
  dispatchIntervalMs: 100,
  loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
  note: 'Machine shared with other workloads; receiver in a separate process on 127.0.0.1, every delivery verified with standardwebhooks.',
};
writeFileSync(
  join(import.meta.dirname, 'results', 'webhooks.json'),
  `${JSON.stringify({ meta, results }, null, 2)}\n`,
);
const md = [
  '# Webhook delivery benchmark',
  '',
  `\`npm run bench:webhooks\` on ${meta.date} (Node ${meta.node}, ${meta.cpus} × ${meta.cpu}). ${meta.note}`,
  '',
  'Latency (p50 … max) is from the start of the API call that makes the change (`POST /v1/organizations/{org}/users`) to the moment the receiver has verified the signed delivery; *commit → verified* starts at the API answer instead (the pipeline alone), and *API call* is the change itself. On a machine this busy the API call dominates: see `meta.loadAverage` in webhooks.json.',
  '',
  '| Database | Dispatcher | Burst: events | Burst: events/s (change → verified) | Steady rate | p50 | p90 | p99 | max | commit → verified p50 / p99 | API call p50 / p99 | bad signatures | duplicates |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...results.map(
    (r) =>
      `| ${r.target} | ${r.dispatcher} | ${r.throughput.events} | ${r.throughput.eventsPerSecond} | ${r.steady.rate}/s for ${r.steady.seconds} s | ${r.steady.p50Ms} ms | ${r.steady.p90Ms} ms | ${r.steady.p99Ms} ms | ${r.steady.maxMs} ms | ${r.steady.commitToDelivery.p50Ms} / ${r.steady.commitToDelivery.p99Ms} ms | ${r.steady.api.p50Ms} / ${r.steady.api.p99Ms} ms | ${r.badSignatures} | ${r.duplicates} |`,
  ),
  '',
  'Target: p99 under 1 s at 200 events/s.',
  '',
].join('\n');
writeFileSync(join(import.meta.dirname, 'results', 'webhooks.md'), md);
process.exit(0);
