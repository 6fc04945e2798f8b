import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestApp } from './helpers/app.ts';
import { describeEachDb } from './helpers/each-db.ts';
import { startHttpReceiver, startSmtpReceiver } from './helpers/receivers.ts';

let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
let http: Awaited<ReturnType<typeof startHttpReceiver>>;
let failing: Awaited<ReturnType<typeof startHttpReceiver>>;
beforeAll(async () => {
  smtp = await startSmtpReceiver();
  http = await startHttpReceiver(201);
  failing = await startHttpReceiver(500);
});
afterAll(async () => {
  await smtp.close();
  await http.close();
  await failing.close();
});

async function create(t: TestApp, body: Record<string, unknown>) {
  const res = await t.call({
    method: 'POST',
    url: `/v1/organizations/${t.org}/alert-channels`,
    payload: body,
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as {
    id: string;
    settings: Record<string, unknown>;
    secretsSet: string[];
    secret?: string;
  };
}

async function testSend(t: TestApp, id: string) {
  const res = await t.call({ method: 'POST', url: `/v1/organizations/${t.org}/alert-channels/${id}/test` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { ok: boolean; status?: number; error?: string };
}

describeEachDb(
  '/v1/organizations/:org/alert-channels',
  (t) => {
    it('sends a test email through SMTP and never returns the password', async () => {
      const ch = await create(t(), {
        name: 'Mail',
        type: 'email',
        settings: {
          host: '127.0.0.1',
          port: smtp.port,
          from: 'latchkey@example.com',
          to: ['a@example.com', 'b@example.com'],
          username: 'u',
          password: 'hunter2-smtp',
        },
      });
      expect(ch.secretsSet).toEqual(['password']);
      expect(JSON.stringify(ch)).not.toContain('hunter2-smtp');
      const row = await t()
        .testDb.db.kysely.selectFrom('alert_channels')
        .selectAll()
        .where('id', '=', ch.id)
        .executeTakeFirstOrThrow();
      expect(row.secrets).not.toContain('hunter2');
      expect(row.secrets.startsWith('v1.')).toBe(true);
      const before = smtp.mails.length;
      expect((await testSend(t(), ch.id)).ok).toBe(true);
      expect(smtp.mails.length).toBe(before + 1);
      expect(smtp.mails[before]?.to).toEqual(['a@example.com', 'b@example.com']);
      expect(smtp.mails[before]?.raw).toMatch(/test alert/i);
    });

    it('sends an SMS through a Twilio-compatible API with basic auth', async () => {
      const ch = await create(t(), {
        name: 'On-call phone',
        type: 'sms',
        settings: {
          baseUrl: http.url,
          accountSid: 'AC123',
          authToken: 'tw-token',
          from: '+15005550006',
          to: ['+15551230000'],
        },
      });
      expect((await testSend(t(), ch.id)).ok).toBe(true);
      const req = http.received.findLast((r) => r.path === '/2010-04-01/Accounts/AC123/Messages.json');
      expect(req?.method).toBe('POST');
      expect(req?.headers.authorization).toBe(`Basic ${Buffer.from('AC123:tw-token').toString('base64')}`);
      const form = new URLSearchParams(req?.body);
      expect(form.get('To')).toBe('+15551230000');
      expect(form.get('From')).toBe('+15005550006');
      expect(form.get('Body')).toMatch(/test alert/i);
    });

    it('posts to Slack-compatible and PagerDuty Events v2 receivers', async () => {
      const slack = await create(t(), {
        name: 'Slack',
        type: 'slack',
        settings: { url: `${http.url}/hooks/slack` },
      });
      expect(slack.settings).toEqual({});
      const pd = await create(t(), {
        name: 'PD',
        type: 'pagerduty',
        settings: { routingKey: 'rk-1', url: `${http.url}/v2/enqueue` },
      });
      expect((await testSend(t(), slack.id)).ok).toBe(true);
      expect((await testSend(t(), pd.id)).ok).toBe(true);
      expect(JSON.parse(http.received.findLast((r) => r.path === '/hooks/slack')?.body ?? '{}').text).toMatch(
        /test alert/i,
      );
      const page = JSON.parse(http.received.findLast((r) => r.path === '/v2/enqueue')?.body ?? '{}');
      expect(page).toMatchObject({
        routing_key: 'rk-1',
        event_action: 'trigger',
        dedup_key: `latchkey-test-${pd.id}`,
      });
    });

    it('signs generic webhooks with a whsec_ secret shown once (Standard Webhooks)', async () => {
      const ch = await create(t(), { name: 'SIEM', type: 'webhook', settings: { url: `${http.url}/siem` } });
      expect(ch.secret).toMatch(/^whsec_/);
      const got = await t().call({
        method: 'GET',
        url: `/v1/organizations/${t().org}/alert-channels/${ch.id}`,
      });
      expect(got.body).not.toContain(ch.secret);
      expect((await testSend(t(), ch.id)).ok).toBe(true);
      const req = http.received.findLast((r) => r.path === '/siem');
      const id = String(req?.headers['webhook-id']);
      const ts = String(req?.headers['webhook-timestamp']);
      const key = Buffer.from((ch.secret ?? '').slice(6), 'base64');
      const expected = createHmac('sha256', key).update(`${id}.${ts}.${req?.body}`).digest('base64');
      expect(req?.headers['webhook-signature']).toBe(`v1,${expected}`);
    });

    it('records a failed send as alert.failed', async () => {
      const ch = await create(t(), { name: 'Broken', type: 'slack', settings: { url: `${failing.url}/x` } });
      const result = await testSend(t(), ch.id);
      expect(result).toMatchObject({ ok: false, status: 500 });
      const audit = await t().call({
        method: 'GET',
        url: `/v1/organizations/${t().org}/audit-logs?type=alert.failed`,
      });
      expect(audit.json().data.some((e: { data: { channelId: string } }) => e.data.channelId === ch.id)).toBe(
        true,
      );
    });

    it('throttles repeats for one rule and group, then summarises what was held back', async () => {
      const path = `/throttled-${t().testDb.target}`;
      const ch = await create(t(), {
        name: 'Throttled',
        type: 'slack',
        settings: { url: `${http.url}${path}` },
      });
      const send = () =>
        t().services.alerts.notify({
          ctx: {
            actor: { type: 'rule', id: 'rul_x', display: 'x' },
            ip: null,
            userAgent: null,
            requestId: null,
          },
          organizationId: t().org,
          channelIds: [ch.id],
          message: { subject: 'S', text: 'repeat', severity: 'warning', dedupKey: 'd', details: {} },
          ruleId: 'rul_x',
          groupKey: '1.2.3.4',
        });
      expect((await send())[0]).toMatchObject({ ok: true });
      expect((await send())[0]).toMatchObject({ throttled: true });
      expect((await send())[0]).toMatchObject({ throttled: true });
      t().clock.advance(5 * 60_000 + 1);
      await send();
      const bodies = http.received
        .filter((r) => r.path === path)
        .map((r) => JSON.parse(r.body).text as string);
      expect(bodies).toHaveLength(2);
      expect(bodies[1]).toContain('2 similar alert(s)');
    });

    it('refuses a channel without its required settings (422)', async () => {
      const res = await t().call({
        method: 'POST',
        url: `/v1/organizations/${t().org}/alert-channels`,
        payload: { name: 'x', type: 'pagerduty', settings: {} },
      });
      expect(res.statusCode).toBe(422);
      expect(res.json().errors[0].location).toBe('/body/settings/routingKey');
    });
  },
  { env: { LATCHKEY_OUTBOUND_ALLOWLIST: '127.0.0.1' } },
);

describeEachDb('alert channels without an outbound allowlist', (t) => {
  it('refuses a channel URL on a loopback or metadata address (SSRF guard, 422)', async () => {
    for (const url of ['http://127.0.0.1:9/hook', 'http://169.254.169.254/latest/meta-data']) {
      const res = await t().call({
        method: 'POST',
        url: `/v1/organizations/${t().org}/alert-channels`,
        payload: { name: 'internal', type: 'slack', settings: { url } },
      });
      expect(res.statusCode, url).toBe(422);
      expect(res.json().detail).toContain('not allowed');
    }
  });

  it('refuses an email channel whose SMTP host is loopback, private or a metadata address (422), storing nothing', async () => {
    for (const host of ['127.0.0.1', 'localhost', '10.0.0.5', '169.254.169.254', '[::1]']) {
      const res = await t().call({
        method: 'POST',
        url: `/v1/organizations/${t().org}/alert-channels`,
        payload: {
          name: 'internal smtp',
          type: 'email',
          settings: { host, port: 25, from: 'a@example.com', to: ['b@example.com'] },
        },
      });
      expect(res.statusCode, host).toBe(422);
      expect(res.json().detail).toContain('SMTP host is not allowed');
      expect(res.json().errors[0].location).toBe('/body/settings/host');
    }
    const list = await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/alert-channels` });
    expect(list.json().data).toEqual([]);
  });
});
