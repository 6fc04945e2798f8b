import { afterEach, expect, it } from 'vitest';
import { buildEvent } from '../src/domain/audit/events.ts';
import { systemClock } from '../src/domain/shared/clock.ts';
import { systemContext } from '../src/domain/shared/types.ts';
import { createWebhookDispatcher } from '../src/domain/webhooks/dispatcher.ts';
import { webhookFanOut } from '../src/domain/webhooks/fanout.ts';
import { createDispatcherLoop } from '../src/events/dispatcher-loop.ts';
import { createEventPipeline } from '../src/events/pipeline.ts';
import { createOutboundHttp } from '../src/net/outbound-http.ts';
import { openDatabase } from '../src/store/db.ts';
import { createStore, type Store } from '../src/store/store.ts';
import type { TestApp } from './helpers/app.ts';
import { describeEachDb } from './helpers/each-db.ts';
import { ok, type Receiver, startReceiver } from './helpers/receiver.ts';

const ALLOW = { env: { LATCHKEY_OUTBOUND_ALLOWLIST: '127.0.0.1' } };

let receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.map((r) => r.close().catch(() => undefined)));
  receivers = [];
});
async function receiver(respond = ok): Promise<Receiver> {
  const r = await startReceiver(respond);
  receivers.push(r);
  return r;
}

async function endpoint(t: TestApp, url: string, eventTypes = ['role.*']) {
  const res = await t.call({
    method: 'POST',
    url: `/v1/organizations/${t.org}/webhooks`,
    payload: { url, eventTypes },
  });
  if (res.statusCode !== 201) throw new Error(res.body);
  return res.json() as { id: string; secret: string };
}

async function createRole(t: TestApp, key: string) {
  const res = await t.call({
    method: 'POST',
    url: `/v1/organizations/${t.org}/roles`,
    payload: { key, name: key, permissions: ['users:read'] },
  });
  if (res.statusCode !== 201) throw new Error(res.body);
}

/** Appends `n` events in transactions of 100, as a burst of changes would. */
async function burst(store: Store, t: TestApp, n: number, type = 'role.created'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 100) {
    const events = Array.from({ length: Math.min(100, n - i) }, (_, j) =>
      buildEvent(t.clock, systemContext, { organizationId: t.org, type, data: { key: `burst-${i + j}` } }),
    );
    await store.transaction((tx) => tx.events.append(events));
    ids.push(...events.map((e) => e.id));
  }
  return ids;
}

async function deliveries(t: TestApp, endpointId: string) {
  const res = await t.call({
    method: 'GET',
    url: `/v1/organizations/${t.org}/webhooks/${endpointId}/deliveries?limit=200`,
  });
  return res.json().data as {
    eventId: string;
    status: string;
    attempts: { success: boolean; error: string | null; statusCode: number | null }[];
  }[];
}

describeEachDb(
  'Webhook delivery reliability',
  (t) => {
    it('delivers every event, in order and validly signed, after the receiver was down for a while', async () => {
      const r = await receiver();
      await r.down();
      const ep = await endpoint(t(), r.url.replace('/hook', '/down-up'), ['role.created']);
      for (const key of ['down-1', 'down-2', 'down-3', 'down-4', 'down-5']) await createRole(t(), key);
      await t().services.dispatcher.runUntilIdle(); // attempt 1: connection refused
      t().clock.advance(7_000);
      await t().services.dispatcher.runUntilIdle(); // attempt 2 (after ~5 s): still refused
      expect(r.received).toHaveLength(0);
      await r.up();
      t().clock.advance(6 * 60_000); // past the 5-minute retry
      await t().services.dispatcher.runUntilIdle();
      expect(r.received.map((x) => x.json.data.key)).toEqual([
        'down-1',
        'down-2',
        'down-3',
        'down-4',
        'down-5',
      ]);
      expect(r.verifyAll(ep.secret)).toEqual(r.received.map((x) => x.headers['webhook-id']));
      const log = await deliveries(t(), ep.id);
      const head = log.find((d) => d.eventId === r.received[0]?.json.id);
      expect(head?.attempts.map((a) => a.success)).toEqual([false, false, true]);
      expect(head?.attempts[0]?.error).toMatch(/^connection_failed/);
      expect(log.every((d) => d.status === 'succeeded')).toBe(true);
    });

    it('disables an endpoint that answers 410 Gone, with webhook.endpoint.disabled', async () => {
      const r = await receiver((_req, res) => res.writeHead(410).end('gone'));
      const ep = await endpoint(t(), r.url.replace('/hook', '/gone'), ['role.created']);
      await createRole(t(), 'gone-1');
      await t().services.dispatcher.runUntilIdle();
      const got = await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/webhooks/${ep.id}` });
      expect(got.json()).toMatchObject({ enabled: false, disabledReason: 'gone' });
      const audit = await t().call({
        method: 'GET',
        url: `/v1/organizations/${t().org}/audit-logs?type=webhook.endpoint.disabled&targetId=${ep.id}`,
      });
      expect(audit.json().data[0]).toMatchObject({
        data: { reason: 'gone', endpointId: ep.id },
        actor: { type: 'system' },
      });
      await createRole(t(), 'gone-2');
      t().clock.advance(3_600_000);
      await t().services.dispatcher.runUntilIdle();
      expect(r.received).toHaveLength(1);
    });

    it('times out a slow receiver and retries it with the same webhook-id', async () => {
      let calls = 0;
      const r = await receiver((_req, res) => {
        if (calls++ === 0) setTimeout(() => res.writeHead(200).end('late'), 1500);
        else res.writeHead(204).end();
      });
      const ep = await endpoint(t(), r.url.replace('/hook', '/slow'), ['role.created']);
      const s = t().services;
      const dispatcher = createWebhookDispatcher({
        store: s.store,
        clock: t().clock,
        sendClock: systemClock,
        outbound: s.outbound,
        secretBox: s.secretBox,
        timeoutMs: 300,
      });
      await createRole(t(), 'slow-1');
      await s.events.drain();
      expect(await dispatcher.runOnce()).toBe(1);
      t().clock.advance(7_000);
      expect(await dispatcher.runOnce()).toBe(1);
      const [d] = await deliveries(t(), ep.id);
      expect(d?.status).toBe('succeeded');
      expect(d?.attempts.map((a) => a.error?.split(':')[0] ?? a.statusCode)).toEqual(['timeout', 204]);
      expect(r.received.map((x) => x.headers['webhook-id'])).toEqual([d?.eventId, d?.eventId]);
    });

    it('honours Retry-After on 429 instead of the 5-second retry', async () => {
      let calls = 0;
      const r = await receiver((_req, res) => {
        if (calls++ === 0) res.writeHead(429, { 'retry-after': '600' }).end();
        else res.writeHead(200).end();
      });
      const ep = await endpoint(t(), r.url.replace('/hook', '/429'), ['role.created']);
      await createRole(t(), 'throttled-1');
      await t().services.dispatcher.runUntilIdle();
      t().clock.advance(60_000);
      await t().services.dispatcher.runUntilIdle();
      expect(r.received).toHaveLength(1);
      t().clock.advance(600_000);
      await t().services.dispatcher.runUntilIdle();
      expect(r.received).toHaveLength(2);
      const [d] = await deliveries(t(), ep.id);
      expect(d?.attempts.map((a) => a.statusCode)).toEqual([429, 200]);
    });

    it('gives up after the schedule (10 attempts) and disables an endpoint failing for 5 days', async () => {
      const r = await receiver((_req, res) => res.writeHead(500).end('boom'));
      const ep = await endpoint(t(), r.url.replace('/hook', '/failing'), ['role.created']);
      await createRole(t(), 'failing-1');
      for (let hour = 0; hour < 100; hour++) {
        await t().services.dispatcher.runUntilIdle();
        t().clock.advance(3_600_000);
      }
      const [first] = await deliveries(t(), ep.id);
      expect(first?.status).toBe('failed');
      expect(first?.attempts).toHaveLength(10);
      expect(
        (await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/webhooks/${ep.id}` })).json()
          .enabled,
      ).toBe(true);
      t().clock.advance(2 * 24 * 3_600_000); // past 5 days since the first failure
      await createRole(t(), 'failing-2');
      await t().services.dispatcher.runUntilIdle();
      const got = await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/webhooks/${ep.id}` });
      expect(got.json()).toMatchObject({ enabled: false, disabledReason: 'failing' });
      const audit = await t().call({
        method: 'GET',
        url: `/v1/organizations/${t().org}/audit-logs?type=webhook.endpoint.disabled&targetId=${ep.id}`,
      });
      expect(audit.json().data[0].data.reason).toBe('failing');
    });

    it('delivers a burst of 1,000 events, all of them, none twice, in order', async () => {
      const r = await receiver();
      const ep = await endpoint(t(), r.url.replace('/hook', '/burst'), ['api_key.leaked']);
      const ids = await burst(t().services.store, t(), 1000, 'api_key.leaked');
      t().services.dispatcher.start();
      try {
        await r.waitFor(1000, 60_000);
        await new Promise((res) => setTimeout(res, 300)); // would a duplicate arrive late?
      } finally {
        await t().services.dispatcher.stop();
      }
      const got = r.verifyAll(ep.secret);
      expect(got).toHaveLength(1000);
      expect(new Set(got).size).toBe(1000);
      expect(got).toEqual(ids);
    }, 90_000);
  },
  ALLOW,
);

describeEachDb(
  'Two dispatchers on one database',
  (t, target) => {
    it('never attempt the same delivery twice', async () => {
      const rs = [await receiver(), await receiver(), await receiver()];
      const eps = [];
      for (const [i, r] of rs.entries())
        eps.push(await endpoint(t(), r.url.replace('/hook', `/two-${i}`), ['api_key.leaked']));
      const s = t().services;
      // The second dispatcher has its own connection pool, as a second process would.
      const db2 =
        target === 'postgres'
          ? openDatabase({ databaseUrl: t().testDb.url, dataDir: t().testDb.dataDir })
          : undefined;
      const store2 = db2 ? createStore(db2) : s.store;
      const pipeline2 = createEventPipeline({ store: store2, clock: t().clock, holder: 'second' });
      pipeline2.subscribe(webhookFanOut({ clock: t().clock }));
      const second = createDispatcherLoop({
        pipeline: pipeline2,
        webhooks: createWebhookDispatcher({
          store: store2,
          clock: t().clock,
          sendClock: systemClock,
          outbound: s.outbound,
          secretBox: s.secretBox,
        }),
        intervalMs: 5,
      });
      const ids = await burst(s.store, t(), 300, 'api_key.leaked');
      s.dispatcher.start();
      second.start();
      try {
        await Promise.all(rs.map((r) => r.waitFor(300, 60_000)));
        await new Promise((res) => setTimeout(res, 300));
      } finally {
        await Promise.all([s.dispatcher.stop(), second.stop()]);
        await db2?.close();
      }
      for (const [i, r] of rs.entries()) {
        const got = r.verifyAll(eps[i]!.secret);
        expect(got).toEqual(ids);
      }
      for (const ep of eps) {
        const rows = await s.store.webhooks.listDeliveries(t().org, { endpointId: ep.id, limit: 1000 });
        const attempts = await s.store.webhooks.attemptsOf(rows.map((d) => d.id));
        expect(attempts).toHaveLength(300);
        expect(new Set(attempts.map((a) => a.delivery_id)).size).toBe(300);
      }
    }, 90_000);
  },
  ALLOW,
);

describeEachDb('Outbound guard at delivery time (no allowlist)', (t) => {
  it('refuses 127.0.0.1 and 169.254.169.254 when delivering, without connecting', async () => {
    const r = await receiver();
    const now = t().clock.now().toISOString();
    const s = t().services;
    // Endpoints whose address became private after creation (DNS changed, or stored before a policy change).
    for (const [id, url] of [
      ['whe_00000000000000000000000001', `https://127.0.0.1:${r.port}/hook`],
      ['whe_00000000000000000000000002', `http://127.0.0.1:${r.port}/hook`],
      ['whe_00000000000000000000000003', 'https://169.254.169.254/latest/meta-data/'],
    ] as const) {
      await s.store.webhooks.insertEndpoint({
        id,
        organization_id: t().org,
        url,
        description: null,
        event_types: JSON.stringify(['role.created']),
        enabled: 1,
        disabled_reason: null,
        secret: s.secretBox.seal('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', `webhook-endpoint:${id}`),
        previous_secret: null,
        previous_secret_expires_at: null,
        failing_since: null,
        created_at: now,
        updated_at: now,
      });
    }
    await createRole(t(), 'guarded');
    await s.dispatcher.runUntilIdle();
    expect(r.received).toHaveLength(0);
    const rows = await s.store.webhooks.listDeliveries(t().org, { limit: 10 });
    const attempts = await s.store.webhooks.attemptsOf(rows.map((d) => d.id));
    const errors = Object.fromEntries(attempts.map((a) => [a.endpoint_id, a.error?.split(':')[0]]));
    expect(errors).toEqual({
      whe_00000000000000000000000001: 'ssrf_blocked',
      whe_00000000000000000000000002: 'insecure_scheme',
      whe_00000000000000000000000003: 'ssrf_blocked',
    });
  });
});

// A fresh outbound client with no allowlist refuses the same URLs directly, too.
it('createOutboundHttp without allowlist refuses a loopback receiver', async () => {
  const r = await receiver();
  const client = createOutboundHttp({ allowlist: [] });
  await expect(client.request({ url: `https://127.0.0.1:${r.port}/` })).rejects.toMatchObject({
    code: 'ssrf_blocked',
  });
  client.close();
  expect(r.received).toHaveLength(0);
});

describeEachDb(
  'Webhook delivery retention',
  (t) => {
    it('deletes finished deliveries and their attempts after LATCHKEY_WEBHOOK_RETENTION_DAYS, never pending ones', async () => {
      const good = await receiver();
      const bad = await receiver((_req, res) => res.writeHead(500).end('no'));
      const kept = await endpoint(t(), good.url.replace('/hook', '/retention-ok'), ['role.created']);
      const retrying = await endpoint(t(), bad.url.replace('/hook', '/retention-retry'), ['role.created']);
      await createRole(t(), 'retention-1');
      await createRole(t(), 'retention-2');
      await t().services.dispatcher.runUntilIdle();
      expect((await deliveries(t(), kept.id)).map((d) => d.status)).toEqual(['succeeded', 'succeeded']);
      expect((await deliveries(t(), retrying.id)).map((d) => d.status)).toEqual(['pending', 'pending']);
      const attempts = (endpointId: string) =>
        t()
          .testDb.db.kysely.selectFrom('webhook_attempts')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('endpoint_id', '=', endpointId)
          .executeTakeFirstOrThrow()
          .then((r) => Number(r.n));
      expect(await attempts(kept.id)).toBe(2);
      const retryAttempts = await attempts(retrying.id); // deliveries to one endpoint go in order: 1 so far
      expect(retryAttempts).toBeGreaterThan(0);

      // Inside the retention period nothing goes.
      t().clock.advance(29 * 86_400_000);
      expect(await t().services.webhooks.pruneDeliveries(t().config.webhookRetentionDays)).toBe(0);
      expect(await deliveries(t(), kept.id)).toHaveLength(2);

      t().clock.advance(2 * 86_400_000);
      expect(await t().services.webhooks.pruneDeliveries(t().config.webhookRetentionDays)).toBe(2);
      expect(await deliveries(t(), kept.id)).toEqual([]);
      expect(await attempts(kept.id)).toBe(0);
      // Still retrying: kept, with its attempt history, however old.
      expect((await deliveries(t(), retrying.id)).map((d) => d.status)).toEqual(['pending', 'pending']);
      expect(await attempts(retrying.id)).toBe(retryAttempts);
    });
  },
  { env: { LATCHKEY_OUTBOUND_ALLOWLIST: '127.0.0.1', LATCHKEY_WEBHOOK_RETENTION_DAYS: '30' } },
);
