import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDb } from './helpers/each-db.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';

const ALLOW = { env: { LATCHKEY_OUTBOUND_ALLOWLIST: '127.0.0.1' } };

describeEachDb(
  'Webhook endpoints /v1/organizations/:org/webhooks',
  (t) => {
    let receiver: Receiver;
    beforeAll(async () => {
      receiver = await startReceiver();
    });
    afterAll(async () => {
      await receiver.close();
    });
    const base = () => `/v1/organizations/${t().org}/webhooks`;
    let n = 0;
    const create = async (payload: Record<string, unknown>) => {
      const path = `/hook/${++n}`;
      const res = await t().call({
        method: 'POST',
        url: base(),
        payload: { url: `${receiver.url.replace('/hook', '')}${path}`, ...payload },
      });
      expect(res.statusCode, res.body).toBe(201);
      return { ...(res.json() as { id: string; secret: string; eventTypes: string[] }), path };
    };
    const to = (ep: { path: string }) => receiver.received.filter((r) => r.path === ep.path);

    it('creates an endpoint whose whsec_ secret is shown once, and audits it', async () => {
      const created = await create({ description: 'CRM sync', eventTypes: ['user.*'] });
      expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
      expect(created).toMatchObject({ eventTypes: ['user.*'], enabled: true, description: 'CRM sync' });
      const got = await t().call({ method: 'GET', url: `${base()}/${created.id}` });
      expect(got.statusCode).toBe(200);
      expect(got.body).not.toContain(created.secret);
      const listed = await t().call({ method: 'GET', url: base() });
      expect(listed.json().data.map((e: { id: string }) => e.id)).toContain(created.id);
      const audit = await t().call({
        method: 'GET',
        url: `/v1/organizations/${t().org}/audit-logs?type=webhook.endpoint.*&targetId=${created.id}`,
      });
      expect(audit.json().data.map((e: { type: string }) => e.type)).toEqual(['webhook.endpoint.created']);
    });

    it('stores the secret encrypted, never in clear', async () => {
      const created = await create({});
      const row = await t().services.store.webhooks.getEndpoint(t().org, created.id);
      expect(row?.secret).toMatch(/^v1\./);
      expect(row?.secret).not.toContain(created.secret.slice(6));
    });

    it('delivers a matching event signed with Standard Webhooks, and filters the rest', async () => {
      const ep = await create({ eventTypes: ['user.created'] });
      const user = await t().call({
        method: 'POST',
        url: `/v1/organizations/${t().org}/users`,
        payload: { email: 'deliver@example.com' },
      });
      expect(user.statusCode).toBe(201);
      await t().createKey(['users:read']); // api_key.created: not subscribed
      await t().services.dispatcher.runUntilIdle();
      const mine = to(ep);
      expect(mine).toHaveLength(1);
      const got = mine[0]!;
      const verified = new Webhook(ep.secret).verify(
        got.body,
        got.headers as Record<string, string>,
      ) as Record<string, unknown>;
      expect(verified).toMatchObject({
        type: 'user.created',
        organizationId: t().org,
        data: { email: 'deliver@example.com' },
      });
      expect(got.headers['webhook-id']).toBe(got.json.id);
      expect(got.json.id).toMatch(/^evt_/);
      expect(got.headers['content-type']).toBe('application/json');
      expect(mine.map((r) => r.json.type)).toEqual(['user.created']);
    });

    it('never delivers the event of a change that rolled back', async () => {
      await create({ eventTypes: ['role.created'] });
      const { buildEvent } = await import('../src/domain/audit/events.ts');
      const { systemContext } = await import('../src/domain/shared/types.ts');
      await expect(
        t().services.store.transaction(async (tx) => {
          await tx.events.append([
            buildEvent(t().clock, systemContext, {
              organizationId: t().org,
              type: 'role.created',
              data: { key: 'ghost' },
            }),
          ]);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      await t().services.dispatcher.runUntilIdle();
      expect(receiver.received.some((r) => r.json.data?.key === 'ghost')).toBe(false);
      expect(await t().services.store.outbox.pending()).toBe(0);
    });

    it('rotates the secret with an overlap during which both signatures are sent', async () => {
      const ep = await create({ eventTypes: ['role.created'] });
      const rotated = await t().call({
        method: 'POST',
        url: `${base()}/${ep.id}/rotate-secret`,
        payload: { overlap: '1h' },
      });
      expect(rotated.statusCode).toBe(200);
      const { secret: next, previousSecretExpiresAt } = rotated.json();
      expect(next).not.toBe(ep.secret);
      expect(new Date(previousSecretExpiresAt).getTime() - t().clock.now().getTime()).toBe(3_600_000);
      await t().call({
        method: 'POST',
        url: `/v1/organizations/${t().org}/roles`,
        payload: { key: 'rotation-check', name: 'Rotation', permissions: ['users:read'] },
      });
      await t().services.dispatcher.runUntilIdle();
      const got = to(ep).find((r) => r.json.data?.key === 'rotation-check');
      expect(got).toBeDefined();
      expect(String(got?.headers['webhook-signature']).split(' ')).toHaveLength(2);
      for (const secret of [ep.secret, next]) {
        expect(() =>
          new Webhook(secret).verify(got!.body, got!.headers as Record<string, string>),
        ).not.toThrow();
      }
      // After the overlap only the new secret signs.
      t().clock.advance(3_600_001);
      const test = await t().call({ method: 'POST', url: `${base()}/${ep.id}/test` });
      expect(test.json().success).toBe(true);
      const last = to(ep).at(-1)!;
      expect(String(last.headers['webhook-signature']).split(' ')).toHaveLength(1);
      expect(() =>
        new Webhook(ep.secret).verify(last.body, last.headers as Record<string, string>),
      ).toThrow();
      expect(() => new Webhook(next).verify(last.body, last.headers as Record<string, string>)).not.toThrow();
    });

    it('sends a test event and records it in the delivery log', async () => {
      const ep = await create({});
      const res = await t().call({ method: 'POST', url: `${base()}/${ep.id}/test` });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ success: true, statusCode: 200, attempt: 1, responseBody: 'ok' });
      const log = await t().call({ method: 'GET', url: `${base()}/${ep.id}/deliveries` });
      expect(log.json().data[0]).toMatchObject({
        id: res.json().deliveryId,
        eventType: 'webhook.test',
        status: 'succeeded',
        attempts: [{ attempt: 1, success: true, statusCode: 200 }],
      });
    });

    it('lists deliveries per event, retries one manually with the same webhook-id, and replays a time range', async () => {
      const ep = await create({ eventTypes: ['user.*'] });
      t().clock.advance(1000);
      const from = t().clock.now().toISOString();
      const user = await t().call({
        method: 'POST',
        url: `/v1/organizations/${t().org}/users`,
        payload: { email: 'replay@example.com' },
      });
      expect(user.statusCode).toBe(201);
      await t().services.dispatcher.runUntilIdle();
      const log = await t().call({ method: 'GET', url: `${base()}/${ep.id}/deliveries?status=succeeded` });
      const delivery = log.json().data.find((d: { eventType: string }) => d.eventType === 'user.created');
      expect(delivery.attempts).toHaveLength(1);
      expect(delivery.attempts[0]).toMatchObject({ success: true, statusCode: 200 });
      expect(delivery.attempts[0].latencyMs).toBeGreaterThanOrEqual(0);

      const perEvent = await t().call({
        method: 'GET',
        url: `/v1/organizations/${t().org}/events/${delivery.eventId}/deliveries`,
      });
      expect(perEvent.json().data.map((d: { endpointId: string }) => d.endpointId)).toContain(ep.id);

      const before = to(ep).length;
      const retry = await t().call({
        method: 'POST',
        url: `${base()}/${ep.id}/deliveries/${delivery.id}/retry`,
      });
      expect(retry.statusCode).toBe(202);
      await t().services.dispatcher.runUntilIdle();
      const again = to(ep).slice(before);
      expect(again.map((r) => r.headers['webhook-id'])).toEqual([delivery.eventId]);
      const after = await t().call({ method: 'GET', url: `${base()}/${ep.id}/deliveries/${delivery.id}` });
      expect(after.json().attempts.map((a: { attempt: number }) => a.attempt)).toEqual([1, 2]);

      t().clock.advance(1000);
      const replay = await t().call({
        method: 'POST',
        url: `${base()}/${ep.id}/replay`,
        payload: { from, to: t().clock.now().toISOString() },
      });
      expect(replay.statusCode).toBe(202);
      expect(replay.json()).toEqual({ queued: 1, truncated: false });
      const beforeReplay = to(ep).length;
      await t().services.dispatcher.runUntilIdle();
      expect(
        to(ep)
          .slice(beforeReplay)
          .map((r) => r.headers['webhook-id']),
      ).toEqual([delivery.eventId]);
    });

    it('updates, disables and deletes an endpoint, auditing each change', async () => {
      const ep = await create({ eventTypes: ['role.*'] });
      const patched = await t().call({
        method: 'PATCH',
        url: `${base()}/${ep.id}`,
        payload: { description: 'changed', eventTypes: ['api_key.*'], enabled: false },
      });
      expect(patched.statusCode).toBe(200);
      expect(patched.json()).toMatchObject({
        description: 'changed',
        eventTypes: ['api_key.*'],
        enabled: false,
      });
      await t().createKey(['users:read']);
      await t().services.dispatcher.runUntilIdle();
      expect(to(ep)).toHaveLength(0); // disabled: nothing sent
      const del = await t().call({ method: 'DELETE', url: `${base()}/${ep.id}` });
      expect(del.statusCode).toBe(204);
      expect((await t().call({ method: 'GET', url: `${base()}/${ep.id}` })).statusCode).toBe(404);
      const audit = await t().call({
        method: 'GET',
        url: `/v1/organizations/${t().org}/audit-logs?type=webhook.endpoint.*&targetId=${ep.id}`,
      });
      expect(
        audit
          .json()
          .data.map((e: { type: string }) => e.type)
          .sort(),
      ).toEqual(['webhook.endpoint.created', 'webhook.endpoint.deleted', 'webhook.endpoint.updated']);
    });

    it('refuses an event filter that matches no event type (422)', async () => {
      const res = await t().call({
        method: 'POST',
        url: base(),
        payload: { url: receiver.url, eventTypes: ['nothing.*'] },
      });
      expect(res.statusCode).toBe(422);
      expect(res.json().errors[0].location).toBe('/body/eventTypes/0');
    });

    it('requires webhooks:write to create and webhooks:read to list (403)', async () => {
      const { key } = await t().createKey(['webhooks:read']);
      expect((await t().call({ method: 'GET', url: base(), key })).statusCode).toBe(200);
      const res = await t().call({ method: 'POST', url: base(), key, payload: { url: receiver.url } });
      expect(res.statusCode).toBe(403);
      const { key: none } = await t().createKey(['users:read']);
      expect((await t().call({ method: 'GET', url: base(), key: none })).statusCode).toBe(403);
    });

    it("answers 404 for another organization's endpoint", async () => {
      const ep = await create({});
      const other = await t().createOrganization();
      const res = await t().call({
        method: 'GET',
        url: `/v1/organizations/${other.org}/webhooks/${ep.id}`,
        key: other.ownerKey,
      });
      expect(res.statusCode).toBe(404);
      const del = await t().call({
        method: 'DELETE',
        url: `/v1/organizations/${other.org}/webhooks/${ep.id}`,
        key: other.ownerKey,
      });
      expect(del.statusCode).toBe(404);
    });
  },
  ALLOW,
);

describeEachDb('Webhook URLs without the outbound allowlist', (t) => {
  it.each([
    ['http://127.0.0.1:9/hook'],
    ['https://127.0.0.1/hook'],
    ['https://localhost/hook'],
    ['https://169.254.169.254/latest/meta-data/'],
    ['https://[::1]/hook'],
    ['https://10.1.2.3/hook'],
  ])('refuses %s at creation (422 webhook_url_refused)', async (url) => {
    const res = await t().call({
      method: 'POST',
      url: `/v1/organizations/${t().org}/webhooks`,
      payload: { url },
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().code).toBe('webhook_url_refused');
  });
});
