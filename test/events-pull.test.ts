import { expect, it } from 'vitest';
import { buildEvent } from '../src/domain/audit/events.ts';
import { systemContext } from '../src/domain/shared/types.ts';
import type { TestApp } from './helpers/app.ts';
import { describeEachDb } from './helpers/each-db.ts';

type Page = {
  data: { cursor: string; id: string; type: string; data: Record<string, unknown> }[];
  nextCursor: string;
};

async function pull(t: TestApp, query: string, key?: string): Promise<Page> {
  const res = await t.call({
    method: 'GET',
    url: `/v1/organizations/${t.org}/events?${query}`,
    ...(key ? { key } : {}),
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as Page;
}

function event(t: TestApp, key: string) {
  return buildEvent(t.clock, systemContext, { organizationId: t.org, type: 'role.created', data: { key } });
}

describeEachDb('GET /v1/organizations/:org/events (pull)', (t, target) => {
  it('returns events in commit order after a cursor, and an unchanged cursor when nothing is new', async () => {
    const start = await pull(t(), 'limit=1000');
    await t().services.store.transaction((tx) =>
      tx.events.append([event(t(), 'pull-1'), event(t(), 'pull-2')]),
    );
    // Pulling uses the owner key, which writes api_key.used events too: look at roles only.
    const page = await pull(t(), `after=${start.nextCursor}&types=role.created`);
    expect(page.data.map((e) => e.data.key)).toEqual(['pull-1', 'pull-2']);
    expect(Number(page.data[1]?.cursor)).toBeGreaterThan(Number(page.data[0]?.cursor));
    expect(page.nextCursor).toBe(page.data[1]?.cursor);
    const empty = await pull(t(), `after=${page.nextCursor}&types=role.created`);
    expect(empty).toEqual({ data: [], nextCursor: page.nextCursor });
  });

  it('filters by types with wildcards and pages with limit', async () => {
    const start = await pull(t(), 'limit=1000');
    await t().call({
      method: 'POST',
      url: `/v1/organizations/${t().org}/users`,
      payload: { email: 'pull@example.com' },
    });
    await t().createKey(['users:read']);
    const users = await pull(t(), `after=${start.nextCursor}&types=user.*`);
    expect(users.data.map((e) => e.type)).toEqual(['user.created']);
    const both = await pull(t(), `after=${start.nextCursor}&types=user.created,api_key.created&limit=1`);
    expect(both.data.map((e) => e.type)).toEqual(['user.created']);
    const rest = await pull(t(), `after=${both.nextCursor}&types=user.created,api_key.created`);
    expect(rest.data.map((e) => e.type)).toEqual(['api_key.created']);
  });

  it('long-polls: an empty answer is held until an event arrives (wait)', async () => {
    const start = await pull(t(), 'limit=1000');
    const started = Date.now();
    const pending = pull(t(), `after=${start.nextCursor}&wait=10&types=role.created`);
    setTimeout(() => {
      void t().services.store.transaction((tx) => tx.events.append([event(t(), 'long-poll')]));
    }, 500);
    const page = await pending;
    expect(page.data.map((e) => e.data.key)).toEqual(['long-poll']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('answers after `wait` seconds with nothing new', async () => {
    const start = await pull(t(), 'limit=1000');
    const started = Date.now();
    const page = await pull(t(), `after=${start.nextCursor}&wait=1&types=role.created`);
    expect(page.data).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it.skipIf(target !== 'postgres')(
    'does not skip an event whose transaction commits after a later one (PostgreSQL)',
    async () => {
      const start = await pull(t(), 'limit=1000');
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      // Transaction A takes the lower seq, then waits; B takes a higher seq and commits first.
      const a = t().services.store.transaction(async (tx) => {
        await tx.events.append([event(t(), 'slow-A')]);
        await held;
      });
      let after = '';
      try {
        await new Promise((r) => setTimeout(r, 100));
        await t().services.store.transaction((tx) => tx.events.append([event(t(), 'fast-B')]));
        const first = await pull(t(), `after=${start.nextCursor}&types=role.created`);
        expect(first.data.map((e) => e.data.key)).toEqual(['fast-B']);
        release();
        await a;
        after = first.nextCursor;
      } finally {
        release();
        await a;
      }
      const second = await pull(t(), `after=${after}&types=role.created`);
      expect(second.data.map((e) => e.data.key)).toEqual(['slow-A']);
    },
  );

  it('requires events:read (403) and hides other organizations (404)', async () => {
    const { key } = await t().createKey(['users:read']);
    const denied = await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/events`, key });
    expect(denied.statusCode).toBe(403);
    const { key: reader } = await t().createKey(['events:read']);
    await pull(t(), '', reader);
    const other = await t().createOrganization();
    const res = await t().call({
      method: 'GET',
      url: `/v1/organizations/${t().org}/events`,
      key: other.ownerKey,
    });
    expect(res.statusCode).toBe(404);
  });

  it('refuses a malformed cursor or type filter (422)', async () => {
    expect(
      (await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/events?after=abc` })).statusCode,
    ).toBe(422);
    expect(
      (await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/events?types=NOT%20A%20TYPE` }))
        .statusCode,
    ).toBe(422);
  });
});
