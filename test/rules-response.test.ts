import { afterAll, beforeAll, expect, it } from 'vitest';
import type { EventRecord } from '../src/store/repos/events.ts';
import type { TestApp } from './helpers/app.ts';
import { describeEachDb } from './helpers/each-db.ts';
import { loginFailedEvent } from './helpers/events.ts';
import { type Received, startHttpReceiver, startSmtpReceiver } from './helpers/receivers.ts';

let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
let pagerduty: Awaited<ReturnType<typeof startHttpReceiver>>;
let slack: Awaited<ReturnType<typeof startHttpReceiver>>;
beforeAll(async () => {
  smtp = await startSmtpReceiver();
  pagerduty = await startHttpReceiver(202);
  slack = await startHttpReceiver(200);
});
afterAll(async () => {
  await smtp.close();
  await pagerduty.close();
  await slack.close();
});

async function channel(t: TestApp, body: Record<string, unknown>): Promise<string> {
  const res = await t.call({
    method: 'POST',
    url: `/v1/organizations/${t.org}/alert-channels`,
    payload: body,
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id as string;
}

async function rule(t: TestApp, body: Record<string, unknown>): Promise<{ id: string; name: string }> {
  const res = await t.call({ method: 'POST', url: `/v1/organizations/${t.org}/rules`, payload: body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; name: string };
}

async function audit(t: TestApp, type: string) {
  const res = await t.call({ method: 'GET', url: `/v1/organizations/${t.org}/audit-logs?type=${type}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().data as Array<{
    actor: { type: string; id: string };
    target: { id: string } | null;
    data: Record<string, unknown>;
  }>;
}

const pagesFor = (ruleId: string) =>
  pagerduty.received.filter((r: Received) =>
    (JSON.parse(r.body) as { dedup_key: string }).dedup_key.includes(ruleId),
  );

describeEachDb(
  'Rules: detection and automatic response',
  (t) => {
    let email: string;
    let pd: string;
    let chat: string;
    beforeAll(async () => {
      await t().services.rules.drain(); // starts the consumer's cursor and installs the default detectors
      email = await channel(t(), {
        name: 'SOC mailbox',
        type: 'email',
        settings: {
          host: '127.0.0.1',
          port: smtp.port,
          secure: false,
          from: 'latchkey@example.com',
          to: ['soc@example.com'],
          username: 'alerts',
          password: 'smtp-secret',
        },
      });
      pd = await channel(t(), {
        name: 'PagerDuty',
        type: 'pagerduty',
        settings: { routingKey: 'R0UT1NGKEY', url: `${pagerduty.url}/v2/enqueue`, severity: 'critical' },
      });
      chat = await channel(t(), {
        name: 'Slack #security',
        type: 'slack',
        settings: { url: `${slack.url}/services/T000/B000/XXX` },
      });
    });

    it('installs the built-in detectors in monitor mode for the organization', async () => {
      const res = await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/rules?limit=50` });
      const templates = (res.json().data as Array<{ template: string | null; mode: string }>).filter(
        (r) => r.template,
      );
      expect(templates.map((r) => r.template).sort()).toEqual(
        [
          'after-hours',
          'brute-force-account',
          'credential-stuffing',
          'honeytoken',
          'key-hygiene',
          'key-never-used',
          'key-unused',
          'key-new-ip',
          'read-only-volume',
          'revoked-key-used',
          'verification-burst',
        ].sort(),
      );
      expect(templates.every((r) => r.mode === 'monitor')).toBe(true);
    });

    it('refuses a condition that does not compile (422 invalid_condition naming the position)', async () => {
      const res = await t().call({
        method: 'POST',
        url: `/v1/organizations/${t().org}/rules`,
        payload: { name: 'broken', on: ['auth.failed'], condition: 'ip == "1.2.3.4" && data.reason ==' },
      });
      expect(res.statusCode).toBe(422);
      expect(res.json().code).toBe('invalid_condition');
      expect(res.json().detail).toMatch(/line 1, column \d+/);
      expect(res.json().errors[0].location).toBe('/body/condition');
    });

    it('locks the account after six failed logins from one IP in a minute and emails the SOC', async () => {
      const user = await t().call({
        method: 'POST',
        url: `/v1/organizations/${t().org}/users`,
        payload: { email: 'victim@example.com' },
      });
      const userId = user.json().id as string;
      const r = await rule(t(), {
        name: 'Six failed logins',
        on: ['user.login.failed'],
        condition: 'inCidr(ip, "198.51.100.0/24")',
        threshold: { count: 6, window: '1m', groupBy: ['target.id', 'ip'] },
        cooldown: '10m',
        actions: [
          { type: 'lock_user', duration: '30m' },
          { type: 'alert', channels: [email] },
        ],
      });
      const events: EventRecord[] = [];
      for (let i = 0; i < 6; i++) {
        events.push(loginFailedEvent(t(), userId, '198.51.100.7'));
        t().clock.advance(5_000);
      }
      await t().services.store.events.append(events.slice(0, 5));
      await t().services.rules.drain();
      expect(
        (await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/users/${userId}/lock` })).json()
          .locked,
      ).toBe(false);

      await t().services.store.events.append(events.slice(5));
      await t().services.rules.drain();
      const lock = await t().call({
        method: 'GET',
        url: `/v1/organizations/${t().org}/users/${userId}/lock`,
      });
      expect(lock.json().locked).toBe(true);

      const mail = smtp.mails.find((m) => m.raw.includes(r.id));
      expect(mail, 'an email naming the rule').toBeDefined();
      expect(mail?.raw).toContain('Six failed logins');
      expect(mail?.to).toEqual(['soc@example.com']);
      expect(mail?.raw).toContain('198.51.100.7');
      expect(mail?.raw).toMatch(/Count: 6/);

      const locked = (await audit(t(), 'user.locked')).find((e) => e.target?.id === userId);
      expect(locked?.actor).toMatchObject({ type: 'rule', id: r.id });
      const triggered = (await audit(t(), 'rule.triggered')).find((e) => e.data.ruleId === r.id);
      expect(triggered?.data.eventIds).toEqual(events.map((e) => e.id));
      expect(triggered?.data.ruleVersion).toBe(1);
      expect(
        (await audit(t(), 'alert.sent')).some((e) => e.data.ruleId === r.id && e.data.channelId === email),
      ).toBe(true);
    });

    it('blocks an IP before authentication after six bad keys from it', async () => {
      const r = await rule(t(), {
        name: 'Key guessing',
        on: ['auth.failed'],
        threshold: { count: 6, window: '1m', groupBy: ['ip'] },
        actions: [
          { type: 'block_ip', duration: '1h' },
          { type: 'alert', channels: [email] },
        ],
      });
      const guess = `ak_live_${'A'.repeat(39)}`;
      for (let i = 0; i < 6; i++) {
        const res = await t().call({
          method: 'GET',
          url: '/v1/users/me',
          key: guess,
          remoteAddress: '203.0.113.66',
        });
        expect(res.statusCode).toBe(401);
      }
      await t().services.batch.flush();
      await t().services.rules.drain();
      const blocked = await t().call({ method: 'GET', url: '/v1/users/me', remoteAddress: '203.0.113.66' });
      expect(blocked.statusCode).toBe(403);
      expect(blocked.json().code).toBe('ip_blocked');
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(3000);
      const other = await t().call({ method: 'GET', url: '/v1/users/me', remoteAddress: '203.0.113.67' });
      expect(other.statusCode).toBe(200);
      const ipEvent = (await audit(t(), 'ip.blocked')).find((e) => e.target?.id === '203.0.113.66');
      expect(ipEvent?.actor).toMatchObject({ type: 'rule', id: r.id });
      expect(
        smtp.mails.some(
          (m) => m.raw.includes(r.id) && m.raw.includes('Key guessing') && m.raw.includes('203.0.113.66'),
        ),
      ).toBe(true);
    });

    it("pages PagerDuty once for a read-only key's volume spike, not again within the cooldown", async () => {
      const { id: keyId, key } = await t().createKey(['users:read']);
      const r = await rule(t(), {
        name: 'Read-only exfiltration',
        on: ['api_key.used'],
        condition: 'key.readOnly == true && key.owner == false',
        threshold: { count: 20, window: '10m', groupBy: ['target.id'] },
        cooldown: '6h',
        severity: 'critical',
        actions: [{ type: 'alert', channels: [pd] }],
      });
      const spike = async () => {
        for (let i = 0; i < 25; i++) {
          const res = await t().call({
            method: 'GET',
            url: `/v1/organizations/${t().org}/users`,
            key,
            remoteAddress: '192.0.2.10',
          });
          expect(res.statusCode).toBe(200);
        }
        await t().services.batch.flush();
        await t().services.rules.drain();
      };
      await spike();
      expect(pagesFor(r.id)).toHaveLength(1);
      const page = JSON.parse(pagesFor(r.id)[0]?.body ?? '{}');
      expect(page).toMatchObject({
        routing_key: 'R0UT1NGKEY',
        event_action: 'trigger',
        dedup_key: `latchkey:${r.id}:${keyId}`,
      });
      expect(page.payload.severity).toBe('critical');

      t().clock.advance(60 * 60_000); // a second spike an hour later, inside the 6 h cooldown
      await spike();
      expect(pagesFor(r.id)).toHaveLength(1);
    });

    it('in monitor mode alerts but takes no action: the key still works', async () => {
      const { key } = await t().createKey(['users:read']);
      const r = await rule(t(), {
        name: 'Monitor: revoke on use',
        mode: 'monitor',
        on: ['api_key.used'],
        condition: 'ip == "192.0.2.77"',
        actions: [{ type: 'revoke_api_key' }, { type: 'alert', channels: [chat] }],
      });
      expect(
        (await t().call({ method: 'GET', url: '/v1/users/me', key, remoteAddress: '192.0.2.77' })).statusCode,
      ).toBe(200);
      await t().services.batch.flush();
      await t().services.rules.drain();
      expect(
        slack.received.some((m) => m.body.includes(r.id) && m.body.includes('Monitor: revoke on use')),
      ).toBe(true);
      expect(
        (await t().call({ method: 'GET', url: '/v1/users/me', key, remoteAddress: '192.0.2.77' })).statusCode,
      ).toBe(200);
      const firings = await t().call({
        method: 'GET',
        url: `/v1/organizations/${t().org}/rules/${r.id}/firings`,
      });
      expect(firings.json().data[0].results[0]).toMatchObject({
        type: 'revoke_api_key',
        outcome: 'skipped',
        reason: 'monitor mode',
      });
    });

    it('never revokes the owner key: it alerts instead and the key keeps working', async () => {
      const r = await rule(t(), {
        name: 'Revoke anything from 192.0.2.99',
        on: ['api_key.used'],
        condition: 'ip == "192.0.2.99"',
        actions: [{ type: 'revoke_api_key' }],
      });
      const before = slack.received.length;
      expect(
        (await t().call({ method: 'GET', url: '/v1/users/me', remoteAddress: '192.0.2.99' })).statusCode,
      ).toBe(200);
      await t().services.batch.flush();
      await t().services.rules.drain();
      expect((await t().call({ method: 'GET', url: '/v1/users/me' })).statusCode).toBe(200);
      expect(
        slack.received
          .slice(before)
          .some((m) => m.body.includes(r.id) && m.body.includes('protected: owner key')),
      ).toBe(true);
      const skipped = (await audit(t(), 'rule.action.skipped')).find((e) => e.data.ruleId === r.id);
      expect(skipped?.actor).toMatchObject({ type: 'rule', id: r.id });
      expect((await audit(t(), 'api_key.revoked')).some((e) => e.actor.id === r.id)).toBe(false);
    });

    it('revokes an ordinary key in enforce mode, audited with the rule as actor', async () => {
      const { id: keyId, key } = await t().createKey(['users:read']);
      const r = await rule(t(), {
        name: 'Revoke keys used from 192.0.2.150',
        on: ['api_key.used'],
        condition: 'ip == "192.0.2.150"',
        actions: [{ type: 'revoke_api_key' }],
      });
      await t().call({ method: 'GET', url: '/v1/users/me', key, remoteAddress: '192.0.2.150' });
      await t().services.batch.flush();
      await t().services.rules.drain();
      const res = await t().call({ method: 'GET', url: '/v1/users/me', key });
      expect(res.json().code).toBe('api_key_revoked');
      const revoked = (await audit(t(), 'api_key.revoked')).find((e) => e.target?.id === keyId);
      expect(revoked?.actor).toMatchObject({ type: 'rule', id: r.id });
    });

    it('never locks a break-glass user and caps automatic actions per hour', async () => {
      const ids: string[] = [];
      for (const email of ['glass@example.com', 'u1@example.com', 'u2@example.com', 'u3@example.com']) {
        const res = await t().call({
          method: 'POST',
          url: `/v1/organizations/${t().org}/users`,
          payload: { email },
        });
        ids.push(res.json().id);
      }
      const [glass, ...others] = ids as [string, ...string[]];
      const flag = await t().call({
        method: 'PUT',
        url: `/v1/organizations/${t().org}/users/${glass}/break-glass`,
        payload: { breakGlass: true },
      });
      expect(flag.statusCode, flag.body).toBe(200);
      const r = await rule(t(), {
        name: 'Lock on custom signal',
        on: ['custom.lock'],
        maxActionsPerHour: 1,
        actions: [{ type: 'lock_user', duration: '1h', target: 'data.userId' }],
      });
      const before = slack.received.length;
      await t().services.store.events.append(
        [glass, ...others].map((userId) => ({
          ...loginFailedEvent(t(), userId, '192.0.2.200'),
          type: 'custom.lock',
          target: null,
          data: { userId },
        })),
      );
      await t().services.rules.drain();
      const locked = async (id: string) =>
        (await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/users/${id}/lock` })).json()
          .locked as boolean;
      expect(await locked(glass)).toBe(false);
      expect([
        await locked(others[0] ?? ''),
        await locked(others[1] ?? ''),
        await locked(others[2] ?? ''),
      ]).toEqual([true, false, false]);
      // The break-glass skip alerts every channel even though the rule has no alert action.
      expect(
        slack.received
          .slice(before)
          .some((m) => m.body.includes(r.id) && m.body.includes('protected: break-glass user')),
      ).toBe(true);
      const firings = await t().call({
        method: 'GET',
        url: `/v1/organizations/${t().org}/rules/${r.id}/firings`,
      });
      const reasons = (firings.json().data as Array<{ results: Array<{ reason?: string }> }>).map(
        (f) => f.results[0]?.reason ?? 'done',
      );
      expect(reasons.filter((x) => x.startsWith('limit of 1'))).toHaveLength(2);
    });

    it('disables a user and ends their sessions, each audited with the rule as actor', async () => {
      const user = await t().call({
        method: 'POST',
        url: `/v1/organizations/${t().org}/users`,
        payload: { email: 'compromised@example.com' },
      });
      const userId = user.json().id as string;
      const r = await rule(t(), {
        name: 'Disable on custom signal',
        on: ['custom.compromised'],
        actions: [{ type: 'terminate_sessions' }, { type: 'disable_user' }],
      });
      await t().services.store.events.append([
        { ...loginFailedEvent(t(), userId, '192.0.2.201'), type: 'custom.compromised' },
      ]);
      await t().services.rules.drain();
      const got = await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/users/${userId}` });
      expect(got.json().status).toBe('disabled');
      const disabled = (await audit(t(), 'user.disabled')).find((e) => e.target?.id === userId);
      expect(disabled?.actor).toMatchObject({ type: 'rule', id: r.id });
      const ended = (await audit(t(), 'user.sessions.terminated')).find((e) => e.target?.id === userId);
      expect(ended?.actor).toMatchObject({ type: 'rule', id: r.id });
    });

    it('handles a replayed event once (idempotent firings)', async () => {
      const r = await rule(t(), { name: 'Replay probe', on: ['custom.probe'], actions: [] });
      const e = { ...loginFailedEvent(t(), 'usr_x', '192.0.2.1'), type: 'custom.probe' };
      await t().services.store.events.append([e]);
      await t().services.rules.drain();
      const stored = { ...e, seq: 0 };
      for (const f of await t().services.rules.engine.evaluate(stored)) {
        expect(f.rule.id).toBe(r.id);
      }
      const firings = await t().call({
        method: 'GET',
        url: `/v1/organizations/${t().org}/rules/${r.id}/firings`,
      });
      expect(firings.json().data).toHaveLength(1);
    });
  },
  { env: { LATCHKEY_OUTBOUND_ALLOWLIST: '127.0.0.1' } },
);
