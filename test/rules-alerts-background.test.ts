import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDb } from './helpers/each-db.ts';
import { loginFailedEvent } from './helpers/events.ts';

/** A Slack-compatible receiver that holds every request until `release()`: a channel that hangs. */
const held: ServerResponse[] = [];
let received = 0;
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    received += 1;
    held.push(res);
  });
});
let url = '';
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  release();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
function release(): void {
  for (const res of held.splice(0)) res.writeHead(200).end('ok');
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describeEachDb(
  'Rules: alerts go out off the event consumer path',
  (t) => {
    beforeAll(async () => {
      await t().services.rules.drain(); // starts the consumer's cursor and installs the default detectors
    });

    it('a channel that hangs does not hold up the next event: its lock is applied while the alert is still out', async () => {
      const call = (method: 'GET' | 'POST', path: string, payload?: Record<string, unknown>) =>
        t().call({ method, url: `/v1/organizations/${t().org}${path}`, ...(payload ? { payload } : {}) });
      const channel = await call('POST', '/alert-channels', {
        name: 'Hanging Slack',
        type: 'slack',
        settings: { url: `${url}/services/T000/B000/XXX` },
      });
      expect(channel.statusCode, channel.body).toBe(201);
      const alerting = await call('POST', '/rules', {
        name: 'Alert on a watched address',
        on: ['user.login.failed'],
        condition: 'ip == "203.0.113.9"',
        actions: [{ type: 'alert', channels: [channel.json().id] }],
      });
      expect(alerting.statusCode, alerting.body).toBe(201);
      const locking = await call('POST', '/rules', {
        name: 'Lock on a known-bad address',
        on: ['user.login.failed'],
        condition: 'ip == "198.51.100.99"',
        actions: [{ type: 'lock_user', duration: '30m' }],
      });
      expect(locking.statusCode, locking.body).toBe(201);
      const victim = (await call('POST', '/users', { email: 'victim@example.com' })).json().id as string;
      const bystander = (await call('POST', '/users', { email: 'bystander@example.com' })).json()
        .id as string;

      const before = received;
      await t().services.store.events.append([
        loginFailedEvent(t(), bystander, '203.0.113.9', 'someone@example.com'),
      ]);
      t().clock.advance(1_000);
      await t().services.store.events.append([
        loginFailedEvent(t(), victim, '198.51.100.99', 'someone@example.com'),
      ]);
      const drained = t().services.rules.drain();

      await until('the alert to reach the hanging channel', async () => received > before);
      await until(
        'the second event to lock its user',
        async () => (await call('GET', `/users/${victim}/lock`)).json().locked === true,
      );
      expect(held.length).toBeGreaterThan(0); // the alert is still out

      release();
      await drained; // drain waits for the notifications it started
      const firings = await call('GET', `/rules/${alerting.json().id}/firings`);
      expect(firings.statusCode, firings.body).toBe(200);
      const results = firings.json().data[0].results as Array<{ type: string; outcome: string }>;
      expect(results).toContainEqual(expect.objectContaining({ type: 'alert', outcome: 'done' }));
    });
  },
  { env: { LATCHKEY_OUTBOUND_ALLOWLIST: '127.0.0.1' } },
);
