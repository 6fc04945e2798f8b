/**
 * Client-credentials tokens per second and p99 latency: Latchkey (Fastify +
 * the per-organization oidc-provider engine + its Kysely adapter on a real
 * SQLite file, or PostgreSQL with DATABASE_URL) against oidc-provider alone
 * with its in-memory adapter, in the same run, same machine, same load.
 *
 *   npm run bench:oauth                 # 5 rounds of 10 s per target
 *   BENCH_SECONDS=5 BENCH_CONNECTIONS=8 npm run bench:oauth
 *
 * Writes bench/results/oauth.json and bench/results/oauth.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { applyV8Flags } from '../bin/v8-flags.mjs';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config/load.ts';
import { masterKeyFromBytes } from '../src/crypto/master-key.ts';
import { systemClock } from '../src/domain/shared/clock.ts';
import { systemContext } from '../src/domain/shared/types.ts';
import { createServices } from '../src/services.ts';
import { openDatabase } from '../src/store/db.ts';
import { migrateToLatest } from '../src/store/migrate.ts';
import { createStore } from '../src/store/store.ts';

// Latchkey runs in this process: with the V8 flags `npm start` sets (bin/v8-flags.mjs).
applyV8Flags();

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const RESOURCE = 'https://api.example.com';

interface Target {
  url: string;
  clientId: string;
  secret: string;
  close(): Promise<void>;
}

interface Result {
  name: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
  rounds?: number[];
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    }),
  );
}

async function freePort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

async function latchkey(): Promise<Target & { database: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-'));
  const port = await freePort();
  const config = loadConfig({
    LATCHKEY_DATA_DIR: dir,
    LATCHKEY_PUBLIC_URL: `http://127.0.0.1:${port}`,
    LATCHKEY_LOG_LEVEL: 'silent',
  });
  const db = openDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir: dir });
  await migrateToLatest(db);
  const services = createServices({
    store: createStore(db),
    clock: systemClock,
    masterKey: masterKeyFromBytes(randomBytes(32)),
    config,
  });
  const created = await services.organizations.bootstrap('Bench');
  if (!created) throw new Error('bench needs an empty database');
  const org = created.organization.id;
  const client = await services.oauth.clients.create(systemContext, org, {
    name: 'bench',
    type: 'confidential',
    grantTypes: ['client_credentials'],
    scopes: ['bench:read'],
    resources: [RESOURCE],
  });
  // Plain HTTP on loopback, as the baseline: the comparison is of the servers, not of TLS.
  const app = await buildApp({ config, services, allowInjectedPlainHttp: true });
  await app.listen({ port, host: '127.0.0.1' });
  return {
    url: `http://127.0.0.1:${port}/oidc/${org}/token`,
    clientId: client.id,
    secret: client.secret ?? '',
    database: db.describe.replace(dir, '<tmp>'),
    async close() {
      await app.close();
      await services.batch.stop();
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function baseline(): Promise<Target> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), alg: 'ES256', use: 'sig', kid: 'bench' };
  const secret = randomBytes(32).toString('base64url');
  const server = createServer();
  const port = await listen(server);
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    // No adapter: oidc-provider's in-memory adapter.
    clients: [
      {
        client_id: 'bench',
        client_secret: secret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [jwk as never] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => RESOURCE,
        getResourceServerInfo: async () => ({
          scope: 'bench:read',
          audience: RESOURCE,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
  });
  server.on('request', provider.callback());
  return {
    url: `http://127.0.0.1:${port}/token`,
    clientId: 'bench',
    secret,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

async function load(name: string, target: Target): Promise<Result> {
  const basic = Buffer.from(
    `${encodeURIComponent(target.clientId)}:${encodeURIComponent(target.secret)}`,
  ).toString('base64');
  const request = {
    method: 'POST' as const,
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: 'bench:read',
      resource: RESOURCE,
    }).toString(),
  };
  // Warm-up: engine creation, key loading, JIT.
  await autocannon({ url: target.url, ...request, connections: CONNECTIONS, duration: 1 });
  const r = await autocannon({ url: target.url, ...request, connections: CONNECTIONS, duration: SECONDS });
  return {
    name,
    requestsPerSecond: Math.round(r.requests.average),
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
  };
}

/** The round with the median throughput (its latency figures come with it). */
function median(results: Result[]): Result {
  const sorted = [...results].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
  return {
    ...sorted[Math.floor(sorted.length / 2)]!,
    rounds: results.map((r) => r.requestsPerSecond),
  } as Result;
}

async function main() {
  const lk = await latchkey();
  const base = await baseline();
  try {
    // Sanity: both answer a token before being measured.
    for (const t of [lk, base]) {
      const res = await fetch(t.url, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${t.clientId}:${t.secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: `grant_type=client_credentials&resource=${encodeURIComponent(RESOURCE)}`,
      });
      if (res.status !== 200) throw new Error(`${t.url} answered ${res.status}: ${await res.text()}`);
    }
    if (process.env.BENCH_ONLY) {
      // Profiling aid: load one target only (BENCH_ONLY=latchkey|baseline), no report written.
      const only = process.env.BENCH_ONLY === 'latchkey' ? lk : base;
      process.stdout.write(`${JSON.stringify(await load(process.env.BENCH_ONLY, only))}\n`);
      return;
    }
    // Alternating rounds, median of each: the machine is shared, so load drifts during a run.
    const rounds: { base: Result; lk: Result }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // ABBA order, so neither target always runs first in a round.
      if (i % 2 === 0) {
        const b = await load('oidc-provider alone (in-memory adapter)', base);
        rounds.push({ base: b, lk: await load(`Latchkey (${lk.database})`, lk) });
      } else {
        const l = await load(`Latchkey (${lk.database})`, lk);
        rounds.push({ base: await load('oidc-provider alone (in-memory adapter)', base), lk: l });
      }
    }
    const baselineResult = median(rounds.map((r) => r.base));
    const latchkeyResult = median(rounds.map((r) => r.lk));
    const ratio = Number((latchkeyResult.requestsPerSecond / baselineResult.requestsPerSecond).toFixed(3));
    const report = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      durationSeconds: SECONDS,
      rounds: ROUNDS,
      connections: CONNECTIONS,
      grant: 'client_credentials, JWT access token (ES256) for one API resource',
      results: [baselineResult, latchkeyResult],
      ratio,
      target: 0.8,
      meetsTarget: ratio >= 0.8,
    };
    mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
    writeFileSync(join(import.meta.dirname, 'results', 'oauth.json'), `${JSON.stringify(report, null, 2)}\n`);
    const md = [
      '# OAuth benchmark: client-credentials tokens',
      '',
      `Run ${report.date} on Node ${report.node}, ${report.cpus} CPUs (shared with other work), ${CONNECTIONS} connections; ${ROUNDS} rounds (alternating which target goes first) of ${SECONDS} s per target (each after a 1 s warm-up), median round reported. Command: \`npm run bench:oauth\`.`,
      '',
      '| target | tokens/s (median round) | p50 ms | p99 ms | requests | non-2xx | tokens/s per round |',
      '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
      ...report.results.map(
        (x) =>
          `| ${x.name} | ${x.requestsPerSecond} | ${x.p50Ms} | ${x.p99Ms} | ${x.requests} | ${x.non2xx} | ${x.rounds?.join(', ')} |`,
      ),
      '',
      `Latchkey / oidc-provider alone: **${ratio}** (target ≥ 0.8: ${report.meetsTarget ? 'met' : 'not met'}).`,
      '',
    ].join('\n');
    writeFileSync(join(import.meta.dirname, 'results', 'oauth.md'), md);
    process.stdout.write(md);
  } finally {
    await lk.close();
    await base.close();
  }
}

await main();
