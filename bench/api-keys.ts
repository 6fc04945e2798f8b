/**
 * API-key hot-path benchmark (issue 3). `npm run bench` starts, on this
 * machine and in the same run, a bare Fastify server answering a constant JSON
 * body (the ceiling) and Latchkey (the real `buildApp`), each in its own child
 * process on 127.0.0.1 with an ephemeral port, and drives each with autocannon
 * at the same concurrency. Latchkey runs on SQLite, and on PostgreSQL when
 * DATABASE_URL or TEST_DATABASE_URL is set (a fresh database, dropped after).
 * A Kysely plugin in the server counts INSERT/UPDATE/DELETE statements during
 * each run. Each Latchkey run is paired with a ceiling run just before it, and
 * the ratio of the pair is what is compared with the target: this host's speed
 * drifts too much within minutes for unpaired figures. Results:
 * bench/results/api-keys.json and api-keys.md.
 *
 *   BENCH_DURATION=5 BENCH_ROUNDS=5 BENCH_WARMUP=5 BENCH_CONNECTIONS=50 npm run bench:api-keys
 *
 * Plain HTTP on loopback for both servers, so TLS cost is left out of both.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import {
  DeleteQueryNode,
  InsertQueryNode,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
  UpdateQueryNode,
} from 'kysely';
import { applyV8Flags, V8_FLAGS } from '../bin/v8-flags.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5);

type Msg =
  | { type: 'ready'; port: number; apiKey?: string; verifierKey?: string; targetKey?: string }
  | { type: 'writes'; writes: number };

// ---------------------------------------------------------------- servers (child processes)

class WriteCounter implements KyselyPlugin {
  writes = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const node = args.node;
    if (InsertQueryNode.is(node) || UpdateQueryNode.is(node) || DeleteQueryNode.is(node)) this.writes += 1;
    return node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

async function serveBare(): Promise<void> {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  app.get('/', async () => ({ hello: 'world' }));
  // Reference for POST /v1/keys/verify: the same JSON body, parsed by Fastify, and a constant answer.
  app.post('/', async () => ({ hello: 'world' }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  process.send?.({ type: 'ready', port } satisfies Msg);
  process.on('message', async (m: { type: string }) => {
    if (m.type === 'stop') {
      await app.close();
      process.exit(0);
    }
  });
}

async function serveLatchkey(databaseUrl: string | undefined): Promise<void> {
  const { buildApp } = await import('../src/app.ts');
  const { loadConfig } = await import('../src/config/load.ts');
  const { masterKeyFromBytes } = await import('../src/crypto/master-key.ts');
  const { systemClock } = await import('../src/domain/shared/clock.ts');
  const { createServices } = await import('../src/services.ts');
  const { openDatabase } = await import('../src/store/db.ts');
  const { migrateToLatest } = await import('../src/store/migrate.ts');
  const { createStore } = await import('../src/store/store.ts');

  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-bench-'));
  let dbName: string | undefined;
  let url = databaseUrl;
  if (databaseUrl) {
    const pg = (await import('pg')).default;
    dbName = `latchkey_bench_${randomBytes(5).toString('hex')}`;
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const u = new URL(databaseUrl);
    u.pathname = `/${dbName}`;
    url = u.toString();
  }
  const config = loadConfig({ LATCHKEY_DATA_DIR: dataDir, LATCHKEY_LOG_LEVEL: 'silent' });
  const db = openDatabase({ databaseUrl: url, dataDir });
  await migrateToLatest(db);
  const counter = new WriteCounter();
  const counted = { ...db, kysely: db.kysely.withPlugin(counter) };
  const services = createServices({
    store: createStore(counted),
    clock: systemClock,
    masterKey: masterKeyFromBytes(randomBytes(32)),
    config,
  });
  const created = await services.organizations.bootstrap('Bench');
  if (!created) throw new Error('bootstrap failed');
  const app = await buildApp({ config, services, allowInjectedPlainHttp: true });
  const ctx = {
    actor: { type: 'system' as const, id: null, display: 'bench' },
    ip: null,
    userAgent: null,
    requestId: null,
  };
  const owner = (await services.apiKeys.authenticate(created.ownerKey.key, { ...ctx })) as {
    ok: true;
    principal: Parameters<typeof services.apiKeys.create>[0];
  };
  const mk = async (name: string, permissions: string[]) =>
    (await services.apiKeys.create(owner.principal, ctx, created.organization.id, { name, permissions })).key;
  const apiKey = await mk('bench caller', ['users:read']);
  const verifierKey = await mk('bench verifier', ['api-keys:verify']);
  const targetKey = await mk('bench target', ['invoices:read']);
  services.batch.start();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  process.send?.({ type: 'ready', port, apiKey, verifierKey, targetKey } satisfies Msg);
  process.on('message', async (m: { type: string }) => {
    if (m.type === 'reset') counter.writes = 0;
    if (m.type === 'writes') {
      // Count the batch still in memory too: it is written at the next interval or on shutdown.
      await services.batch.flush();
      process.send?.({ type: 'writes', writes: counter.writes } satisfies Msg);
    }
    if (m.type === 'stop') {
      await app.close();
      await services.batch.stop();
      await db.close();
      if (dbName && databaseUrl) {
        const pg = (await import('pg')).default;
        const admin = new pg.Client({ connectionString: databaseUrl });
        await admin.connect();
        // Without FORCE first: our own pool's backends may still be leaving (see test/helpers/databases.ts).
        for (let attempt = 0; ; attempt++) {
          try {
            await admin.query(`DROP DATABASE IF EXISTS ${dbName}${attempt < 20 ? '' : ' WITH (FORCE)'}`);
            break;
          } catch (error) {
            if (attempt >= 20 || (error as { code?: string }).code !== '55006') throw error;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
        await admin.end();
      }
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    }
  });
}

// ---------------------------------------------------------------- driver (parent process)

interface Row {
  target: string;
  database: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  requests: number;
  percentOfCeiling: number | null;
  /** POST /v1/keys/verify only: against the bare POST reference (same method and body). */
  percentOfPostReference: number | null;
  /** Median over the runs of the server's CPU time per request (Linux only). */
  serverCpuMicrosPerRequest: number | null;
  dbWrites: number | null;
  dbWritesPerRequest: number | null;
}

/**
 * With two cores or more and Linux's `taskset`, every server runs on CPU 0 and the load generator
 * (this process) on CPU 1, so a run is not skewed by where the scheduler happens to put them.
 * Returns how the processes were placed, for the results.
 */
function pin(pid: number | undefined, cpu: number): string {
  if (pid === undefined || cpus().length < 2) return 'not pinned';
  try {
    execFileSync('taskset', ['--all-tasks', '--cpu-list', '--pid', String(cpu), String(pid)], {
      stdio: 'ignore',
    });
    return 'servers on CPU 0, load generator on CPU 1 (taskset)';
  } catch {
    return 'not pinned (no taskset)';
  }
}

function start(args: string[]): Promise<{ child: ChildProcess; ready: Extract<Msg, { type: 'ready' }> }> {
  const child = fork(join(here, 'api-keys.ts'), args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  pin(child.pid, 0);
  return new Promise((resolve, reject) => {
    child.once('message', (m: Msg) =>
      m.type === 'ready' ? resolve({ child, ready: m }) : reject(new Error('bad')),
    );
    child.once('exit', (code) => reject(new Error(`server exited (${code})`)));
  });
}

function ask(child: ChildProcess, type: string): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m: Msg) => resolve(m.type === 'writes' ? m.writes : 0));
    child.send({ type });
  });
}

async function drive(opts: autocannon.Options, seconds: number): Promise<autocannon.Result> {
  return autocannon({ connections: CONNECTIONS, duration: seconds, ...opts });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.send({ type: 'stop' });
  });
}

interface Target {
  name: string;
  database: string;
  opts: autocannon.Options;
  child: ChildProcess | undefined;
  runs: autocannon.Result[];
  /** Per round: this run's req/s over the ceiling run just before it (Latchkey rows only). */
  ceilingRatios: number[];
  /** Per round: this run's req/s over the bare POST run just before it (verify rows only). */
  postRatios: number[];
  /** Per run: the server process's CPU time (user + system, all threads) per request, in µs. */
  cpuPerRequest: number[];
  /** The process serving this target, for its CPU time. */
  pid: number | undefined;
  writes: number;
}

// USER_HZ: 100 on every Linux architecture Node supports.
const CLOCK_TICKS = 100;

/** User + system CPU time of a process so far, in ms (Linux /proc; undefined elsewhere). */
function cpuTimeMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

async function main(): Promise<void> {
  const loadBefore = loadavg()[0] ?? 0;
  const placement = pin(process.pid, 1);
  const children: ChildProcess[] = [];
  const newTarget = (
    name: string,
    database: string,
    opts: autocannon.Options,
    child?: ChildProcess,
  ): Target => ({
    name,
    database,
    opts,
    child,
    pid: child?.pid,
    runs: [],
    ceilingRatios: [],
    postRatios: [],
    cpuPerRequest: [],
    writes: 0,
  });

  const bare = await start(['--server', 'bare']);
  children.push(bare.child);
  const ceiling = newTarget('bare Fastify (ceiling)', '-', { url: `http://127.0.0.1:${bare.ready.port}/` });
  const pgUrl = process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  const verifyBody = (key: string | undefined) => JSON.stringify({ key, permissions: ['invoices:read'] });
  // Not a target: what Fastify alone does with the verify request's method and body, so the verify
  // rows can be read against it as well as against the GET ceiling.
  const postReference = newTarget('bare Fastify POST, same body (reference)', '-', {
    url: `http://127.0.0.1:${bare.ready.port}/`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: verifyBody(`ak_live_${'x'.repeat(39)}`),
  });
  const latchkey: Target[] = [];
  const databases: [string, string[]][] = [['sqlite', ['--server', 'latchkey']]];
  if (pgUrl) databases.push(['postgresql', ['--server', 'latchkey', '--db', pgUrl]]);
  for (const [database, args] of databases) {
    const lk = await start(args);
    children.push(lk.child);
    const base = `http://127.0.0.1:${lk.ready.port}`;
    latchkey.push(
      newTarget(
        'GET /v1/users/me (API key)',
        database,
        { url: `${base}/v1/users/me`, headers: { authorization: `Bearer ${lk.ready.apiKey}` } },
        lk.child,
      ),
      newTarget(
        'POST /v1/keys/verify',
        database,
        {
          url: `${base}/v1/keys/verify`,
          method: 'POST',
          headers: { authorization: `Bearer ${lk.ready.verifierKey}`, 'content-type': 'application/json' },
          body: verifyBody(lk.ready.targetKey),
        },
        lk.child,
      ),
    );
  }
  ceiling.pid = bare.child.pid;
  postReference.pid = bare.child.pid;
  const isVerify = (t: Target) => t.name.startsWith('POST /v1/keys/verify');
  const targets = [ceiling, postReference, ...latchkey];

  const run = async (t: Target, round: number): Promise<number> => {
    if (t.child) t.child.send({ type: 'reset' });
    const cpuBefore = cpuTimeMs(t.pid);
    const r = await drive(t.opts, DURATION);
    const cpuAfter = cpuTimeMs(t.pid);
    if (t.child) t.writes += await ask(t.child, 'writes');
    t.runs.push(r);
    const cpu =
      cpuBefore === undefined || cpuAfter === undefined
        ? undefined
        : ((cpuAfter - cpuBefore) * 1000) / Math.max(1, r.requests.total);
    if (cpu !== undefined) t.cpuPerRequest.push(cpu);
    console.log(
      `round ${round}  ${t.name.padEnd(40)} ${t.database.padEnd(10)} ${String(Math.round(r.requests.average)).padStart(7)} req/s  p50 ${r.latency.p50} ms  p99 ${r.latency.p99} ms  non-2xx ${r.non2xx}  server CPU ${cpu?.toFixed(1) ?? '?'} µs/request`,
    );
    return r.requests.average;
  };

  // All servers stay up. Each round runs the ceiling right before every Latchkey target (and the
  // bare POST reference right before every verify target) and compares the pair: this host's speed
  // drifts by tens of percent within a minute, so figures taken minutes apart would compare the
  // drift more than the servers. The medians over the rounds are reported.
  for (const t of targets) await drive(t.opts, WARMUP); // JIT, caches, connection pools
  for (let round = 1; round <= ROUNDS; round++) {
    for (const t of latchkey) {
      const ceilingRate = await run(ceiling, round);
      const postRate = isVerify(t) ? await run(postReference, round) : undefined;
      const rate = await run(t, round);
      t.ceilingRatios.push(rate / ceilingRate);
      if (postRate !== undefined) t.postRatios.push(rate / postRate);
    }
  }
  for (const child of children) await stop(child);

  const percent = (ratios: number[]) => (ratios.length > 0 ? Math.round(median(ratios) * 100) : null);
  const rows: Row[] = targets.map((t) => {
    const requests = t.runs.reduce((n, r) => n + r.requests.total, 0);
    return {
      target: t.name,
      database: t.database,
      requestsPerSecond: Math.round(median(t.runs.map((r) => r.requests.average))),
      p50Ms: median(t.runs.map((r) => r.latency.p50)),
      p99Ms: median(t.runs.map((r) => r.latency.p99)),
      non2xx: t.runs.reduce((n, r) => n + r.non2xx, 0),
      errors: t.runs.reduce((n, r) => n + r.errors, 0),
      requests,
      percentOfCeiling: percent(t.ceilingRatios),
      percentOfPostReference: percent(t.postRatios),
      serverCpuMicrosPerRequest:
        t.cpuPerRequest.length > 0 ? Number(median(t.cpuPerRequest).toFixed(1)) : null,
      dbWrites: t.child ? t.writes : null,
      dbWritesPerRequest: t.child ? Number((t.writes / Math.max(1, requests)).toFixed(6)) : null,
    };
  });
  // The reference row against the ceiling: medians of all their runs (they are not paired).
  const [ceilingRow, postRow] = rows as [Row, Row];
  postRow.percentOfCeiling = Math.round((postRow.requestsPerSecond / ceilingRow.requestsPerSecond) * 100);

  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    connections: CONNECTIONS,
    durationSeconds: DURATION,
    warmupSeconds: WARMUP,
    rounds: ROUNDS,
    transport: 'plain HTTP on 127.0.0.1 (no TLS on either side)',
    v8Flags: V8_FLAGS,
    placement,
    pairing:
      'each Latchkey run is preceded by a ceiling run (verify runs by a bare POST run too); % columns are medians of the per-round ratios',
    // Other work on the machine skews every row; the 1-minute load average says how much there was.
    loadAverage: { before: Number(loadBefore.toFixed(2)), after: Number((loadavg()[0] ?? 0).toFixed(2)) },
    targets: { percentOfCeiling: 60, p99Ms: 10, dbWritesPerRequest: 0 },
    perRound: latchkey.map((t) => ({
      target: t.name,
      database: t.database,
      percentOfCeiling: t.ceilingRatios.map((r) => Math.round(r * 100)),
      percentOfPostReference: t.postRatios.map((r) => Math.round(r * 100)),
    })),
  };
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'api-keys.json'), `${JSON.stringify({ ...meta, rows }, null, 2)}\n`);
  const md = [
    '# API-key hot path benchmark',
    '',
    `\`npm run bench:api-keys\` on ${meta.date.slice(0, 10)}: Node ${meta.node}, ${meta.cpus}, V8 flags \`${V8_FLAGS.join(' ')}\` on every server (as \`npm start\` sets them), ${placement}, autocannon with ${CONNECTIONS} connections, ${ROUNDS} rounds of ${DURATION} s per run after a ${WARMUP} s warm-up per target, ${meta.transport}. In every round each Latchkey run comes right after a run of the ceiling (and each verify run right after a bare POST run); the % columns are the medians of those paired ratios, req/s and latencies the medians of the runs. Servers and load generator share the machine; 1-minute load average ${meta.loadAverage.before} before and ${meta.loadAverage.after} after the run (on ${cpus().length} cores).`,
    '',
    '| target | database | req/s | % of ceiling | % of bare POST | server CPU µs / request | p50 ms | p99 ms | non-2xx | DB writes in run | writes / request |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.target} | ${r.database} | ${r.requestsPerSecond} | ${r.percentOfCeiling ?? 100}% | ${r.percentOfPostReference === null ? '–' : `${r.percentOfPostReference}%`} | ${r.serverCpuMicrosPerRequest ?? '–'} | ${r.p50Ms} | ${r.p99Ms} | ${r.non2xx} | ${r.dbWrites ?? '–'} | ${r.dbWritesPerRequest ?? '–'} |`,
    ),
    '',
    'Per round, % of the ceiling: ' +
      meta.perRound
        .map((r) => `${r.target} (${r.database}) ${r.percentOfCeiling.map((x) => `${x}%`).join(', ')}`)
        .join('; ') +
      '.',
    '',
    "Server CPU is the serving process's user and system time (all its threads, garbage collection included) per request, from /proc: it does not depend on how the load generator shares the cores, so the ratio of two rows' CPU figures is the steadier measure of the work Latchkey adds.",
    '',
    'The bare POST row is a reference, not a target: Fastify alone answering a constant to the same POST and JSON body as `/v1/keys/verify` (reading and parsing a request body costs Node and Fastify a large share of the GET ceiling before any work is done).',
    '',
    'Targets (issue 3): each Latchkey row at least 60% of the ceiling, p99 under 10 ms, zero database writes per request. The writes counted are the batched usage/`api_key.used` flushes (one transaction about every second, whatever the request rate), not per request.',
    '',
  ].join('\n');
  writeFileSync(join(here, 'results', 'api-keys.md'), md);
  console.log('\nwrote bench/results/api-keys.json and bench/results/api-keys.md');
}

const serverIndex = process.argv.indexOf('--server');
if (serverIndex >= 0) {
  // Both servers run with the V8 flags `npm start` sets (bin/v8-flags.mjs), so neither differs from
  // the other, nor Latchkey from how it is shipped, in runtime settings.
  applyV8Flags();
  const kind = process.argv[serverIndex + 1];
  const dbIndex = process.argv.indexOf('--db');
  const db = dbIndex >= 0 ? process.argv[dbIndex + 1] : undefined;
  (kind === 'bare' ? serveBare() : serveLatchkey(db)).catch((error) => {
    console.error(error);
    process.exit(1);
  });
} else {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
