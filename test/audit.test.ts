import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { runCli } from './helpers/cli.ts';
import { describeEachDb } from './helpers/each-db.ts';

describeEachDb('audit log', (t) => {
  const audit = (query = '') => `/v1/organizations/${t().org}/audit-logs${query}`;

  it('records a change with actor, target, IP, user agent, request id and outcome', async () => {
    const res = await t().call({
      method: 'POST',
      url: `/v1/organizations/${t().org}/users`,
      payload: { email: 'audited@example.com' },
      headers: { 'user-agent': 'spec-agent/1.0' },
      remoteAddress: '203.0.113.9',
    });
    const user = res.json();
    const events = (await t().call({ method: 'GET', url: audit(`?targetId=${user.id}`) })).json().data;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'user.created',
      organizationId: t().org,
      actor: { type: 'api_key', display: 'Owner key' },
      target: { type: 'user', id: user.id },
      outcome: 'success',
      ip: '203.0.113.9',
      userAgent: 'spec-agent/1.0',
      requestId: res.json().requestId ?? expect.stringMatching(/^req_/),
      data: { email: 'audited@example.com' },
    });
    expect(events[0].id).toMatch(/^evt_/);
  });

  it('records a failed key with only a partial identifier, the source IP and the endpoint', async () => {
    const { id, key } = await t().createKey([]);
    await t().call({ method: 'DELETE', url: `/v1/organizations/${t().org}/api-keys/${id}` });
    await t().call({ method: 'GET', url: '/v1/users/me', key, remoteAddress: '198.51.100.7' });
    const events = (await t().call({ method: 'GET', url: audit(`?type=auth.failed&targetId=${id}`) })).json()
      .data;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      outcome: 'failure',
      ip: '198.51.100.7',
      data: {
        reason: 'api_key_revoked',
        endpoint: 'GET /v1/users/me',
        keyHint: `${key.slice(0, 12)}…${key.slice(-4)}`,
      },
    });
    expect(JSON.stringify(events)).not.toContain(key);
  });

  it('records each use of a key as api_key.used, counted in memory and written in batches', async () => {
    const { id, key } = await t().createKey(['users:read']);
    for (let i = 0; i < 3; i++)
      await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/users`, key });
    const events = (await t().call({ method: 'GET', url: audit(`?type=api_key.used&actorId=${id}`) })).json()
      .data;
    // Issue 3: uses of one key on one endpoint from one address within a flush interval are one event with a count.
    expect(events).toHaveLength(1);
    expect(events[0].data).toMatchObject({
      keyId: id,
      endpoint: 'GET /v1/organizations/:org/users',
      count: 3,
    });
    const got = (
      await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/api-keys/${id}` })
    ).json();
    expect(got.requestCount).toBe(3);
    expect(got.lastIp).toBe('127.0.0.1');
  });

  it('filters by type wildcard, outcome and date range, newest first, with a cursor', async () => {
    const org = await t().createOrganization('Audit paging');
    const call = t().orgClient(org);
    const start = t().clock.now().toISOString();
    for (let i = 0; i < 3; i++) {
      t().clock.advance(1000);
      await call('/users', { email: `p${i}@example.com` });
    }
    const all = (await call(`/audit-logs?type=user.*&startDate=${start}`)).json().data;
    expect(all.map((e: { data: { email: string } }) => e.data.email)).toEqual([
      'p2@example.com',
      'p1@example.com',
      'p0@example.com',
    ]);
    const page1 = (await call(`/audit-logs?type=user.created&limit=2`)).json();
    const page2 = (await call(`/audit-logs?type=user.created&limit=2&cursor=${page1.nextCursor}`)).json();
    expect([...page1.data, ...page2.data].map((e: { id: string }) => e.id)).toEqual(
      all.map((e: { id: string }) => e.id),
    );
    expect(page2.nextCursor).toBeNull();
    const secondOnly = (
      await call(`/audit-logs?type=user.created&startDate=${all[1].time}&endDate=${all[0].time}`)
    ).json().data;
    expect(secondOnly.map((e: { id: string }) => e.id)).toEqual([all[1].id]);
    expect((await call('/audit-logs?outcome=failure')).json().data).toEqual([]);
    const bad = await call('/audit-logs?startDate=yesterday');
    expect(bad.statusCode).toBe(422);
    expect(bad.json().errors[0].location).toBe('/query/startDate');
  });

  it('exports a time range as NDJSON', async () => {
    const res = await t().call({ method: 'GET', url: audit('/export?type=user.*') });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('application/x-ndjson');
    const lines = res.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(0);
    expect(
      lines.every(
        (e: { type: string; organizationId: string }) =>
          e.type.startsWith('user.') && e.organizationId === t().org,
      ),
    ).toBe(true);
  });

  it('seals the log and detects an edited and a deleted record, through the service and the CLI', async () => {
    await t().services.batch.flush();
    t().clock.advance(10_000);
    const sealed = await t().services.sealer.seal();
    expect(sealed.events).toBeGreaterThan(5);
    expect((await t().services.sealer.verify()).ok).toBe(true);

    const cliEnv = {
      LATCHKEY_DATA_DIR: t().testDb.dataDir,
      DATABASE_URL: t().testDb.url,
    };
    const okRun = await runCli(['audit', 'verify'], cliEnv);
    expect(okRun.stdout).toMatch(/^OK: \d+ events in \d+ seals verified/);
    expect(okRun.code).toBe(0);

    const kysely = t().testDb.db.kysely;
    const victim = await kysely
      .selectFrom('events')
      .select(['id', 'seq'])
      .where('type', '=', 'user.created')
      .orderBy('seq')
      .limit(1)
      .executeTakeFirstOrThrow();
    await sql`update events set data = ${JSON.stringify({ email: 'someone-else@example.com' })} where id = ${victim.id}`.execute(
      kysely,
    );
    const edited = await t().services.sealer.verify();
    expect(edited.ok).toBe(false);
    expect(edited.problem).toMatchObject({ kind: 'event_modified', eventId: victim.id });
    const failRun = await runCli(['audit', 'verify'], cliEnv);
    expect(failRun.code).toBe(1);
    expect(failRun.stdout).toContain(`FAILED: event ${victim.id}`);

    await sql`delete from events where id = ${victim.id}`.execute(kysely);
    const deleted = await t().services.sealer.verify();
    expect(deleted.problem).toMatchObject({ kind: 'event_deleted', eventId: victim.id });
  });
});

describeEachDb('audit log: failures with unknown keys', (t) => {
  it("records an unknown key's failure in the organization named by the URL", async () => {
    const { generateApiKey } = await import('../src/crypto/api-key-format.ts');
    const stranger = generateApiKey('ak_live_');
    const res = await t().call({
      method: 'GET',
      url: `/v1/organizations/${t().org}/users`,
      key: stranger,
      remoteAddress: '192.0.2.44',
    });
    expect(res.json().code).toBe('invalid_api_key');
    const events = (
      await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/audit-logs?type=auth.failed` })
    ).json().data;
    expect(events[0]).toMatchObject({
      ip: '192.0.2.44',
      data: { reason: 'invalid_api_key', endpoint: 'GET /v1/organizations/:org/users' },
    });
    expect(events[0].data.keyHint).toBe(`${stranger.slice(0, 12)}…${stranger.slice(-4)}`);
  });

  it('serves the API reference at /docs without credentials', async () => {
    const page = await t().call({ method: 'GET', url: '/docs', key: null });
    expect(page.statusCode).toBe(200);
    expect(page.body).not.toMatch(/https?:\/\/(?!localhost)[a-z0-9.-]+\/[^"']*\.(js|css)/i);
  });
});
