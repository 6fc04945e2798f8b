import { beforeAll, expect, it } from 'vitest';
import { newId } from '../src/crypto/ids.ts';
import type { EventRecord } from '../src/store/repos/events.ts';
import type { TestApp } from './helpers/app.ts';
import { describeEachDb } from './helpers/each-db.ts';

const WEEK_START = Date.parse('2026-03-02T00:00:00.000Z'); // a Monday
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

function event(t: TestApp, at: number, type: string, fields: Partial<EventRecord>): EventRecord {
  return {
    id: newId('evt', at),
    organizationId: t.org,
    type,
    time: new Date(at).toISOString(),
    actor: { type: 'anonymous', id: null, display: null },
    target: null,
    outcome: 'failure',
    ip: null,
    userAgent: null,
    requestId: null,
    data: {},
    ...fields,
  };
}

async function createRule(t: TestApp, body: Record<string, unknown>): Promise<string> {
  const res = await t.call({ method: 'POST', url: `/v1/organizations/${t.org}/rules`, payload: body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id as string;
}

async function backtest(t: TestApp, id: string, from = WEEK_START, to = WEEK_START + 7 * DAY) {
  const res = await t.call({
    method: 'POST',
    url: `/v1/organizations/${t.org}/rules/${id}/backtest`,
    payload: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as {
    eventsScanned: number;
    firings: Array<{ at: string; count: number; groupKey: string; eventIds: string[]; actions: string[] }>;
  };
}

describeEachDb('POST /v1/organizations/:org/rules/:id/backtest', (t) => {
  const failures: EventRecord[] = [];
  beforeAll(async () => {
    const login = (at: number, user: string, ip: string, email = `${user}@example.com`) =>
      event(t(), at, 'user.login.failed', { target: { type: 'user', id: user }, ip, data: { email } });
    // Monday 10:00: six failures for usr_a within a minute (fires).
    for (let i = 0; i < 6; i++)
      failures.push(login(WEEK_START + 10 * HOUR + i * 5_000, 'usr_a', '198.51.100.1'));
    // Wednesday: five failures (below the threshold).
    for (let i = 0; i < 5; i++)
      failures.push(login(WEEK_START + 2 * DAY + i * 5_000, 'usr_a', '198.51.100.1'));
    // Friday 15:00: twelve failures in a minute: one firing, then the cooldown holds the second.
    for (let i = 0; i < 12; i++)
      failures.push(login(WEEK_START + 4 * DAY + 15 * HOUR + i * 4_000, 'usr_b', '198.51.100.2'));
    // Saturday: credential stuffing, 25 distinct accounts from one IP in five minutes.
    for (let i = 0; i < 25; i++)
      failures.push(login(WEEK_START + 5 * DAY + i * 10_000, `usr_s${i}`, '203.0.113.200'));
    // The following Monday: outside the backtest range.
    for (let i = 0; i < 6; i++)
      failures.push(login(WEEK_START + 7 * DAY + HOUR + i * 1_000, 'usr_a', '198.51.100.1'));

    // A read-only key: ~10 calls an hour for five days, then 120 in one hour on Saturday 02:00.
    const used = (at: number, ip: string) =>
      event(t(), at, 'api_key.used', {
        outcome: 'success',
        actor: { type: 'api_key', id: 'key_ro', display: 'SIEM' },
        target: { type: 'api_key', id: 'key_ro' },
        ip,
        data: { keyId: 'key_ro', ip },
      });
    for (let h = 0; h < 5 * 24; h++)
      for (let i = 0; i < 10; i++) failures.push(used(WEEK_START + h * HOUR + i * 5 * MIN, '192.0.2.10'));
    for (let i = 0; i < 120; i++)
      failures.push(used(WEEK_START + 5 * DAY + 2 * HOUR + i * 20_000, '192.0.2.10'));
    // Sunday: the same key from a new address.
    failures.push(used(WEEK_START + 6 * DAY + 12 * HOUR, '203.0.113.9'));
    await t().services.store.events.append(failures);
  });

  it('reports the firings a threshold rule would have made over a stored week, acting on nothing', async () => {
    const id = await createRule(t(), {
      name: 'Brute force',
      on: ['user.login.failed'],
      threshold: { count: 6, window: '1m', groupBy: ['target.id'] },
      cooldown: '10m',
      actions: [{ type: 'lock_user', duration: '15m' }],
    });
    const report = await backtest(t(), id);
    expect(report.firings.map((f) => [f.at, f.groupKey, f.count])).toEqual([
      [new Date(WEEK_START + 10 * HOUR + 25_000).toISOString(), 'usr_a', 6],
      [new Date(WEEK_START + 4 * DAY + 15 * HOUR + 20_000).toISOString(), 'usr_b', 6],
    ]);
    expect(report.firings[0]?.eventIds).toEqual(failures.slice(0, 6).map((e) => e.id));
    expect(report.firings[0]?.actions).toEqual(['lock_user']);
    const firings = await t().call({
      method: 'GET',
      url: `/v1/organizations/${t().org}/rules/${id}/firings`,
    });
    expect(firings.json().data).toEqual([]);
  });

  it('finds credential stuffing by counting distinct accounts per IP', async () => {
    const id = await createRule(t(), {
      name: 'Stuffing',
      on: ['user.login.failed'],
      threshold: { count: 20, window: '10m', groupBy: ['ip'], distinct: 'data.email' },
      actions: [],
    });
    const report = await backtest(t(), id);
    expect(report.firings.map((f) => [f.groupKey, f.count])).toEqual([['203.0.113.200', 20]]);
  });

  it("finds a read-only key's hour far above its own baseline", async () => {
    const id = await createRule(t(), {
      name: 'Volume',
      on: ['api_key.used'],
      threshold: { count: 50, window: '1h', groupBy: ['target.id'], baseline: { factor: 5, history: '7d' } },
      actions: [],
    });
    const report = await backtest(t(), id);
    expect(report.firings).toHaveLength(1);
    expect(report.firings[0]).toMatchObject({ groupKey: 'key_ro', count: 50 });
    expect(Date.parse(report.firings[0]?.at ?? '')).toBeGreaterThanOrEqual(WEEK_START + 5 * DAY + 2 * HOUR);
  });

  it('finds a key used from an address it has not used in 30 days', async () => {
    const id = await createRule(t(), {
      name: 'New IP',
      on: ['api_key.used'],
      newValue: { field: 'ip', groupBy: ['target.id'], lookback: '30d' },
      actions: [],
    });
    // From Tuesday on, 192.0.2.10 has history; only the Sunday address is new.
    const report = await backtest(t(), id, WEEK_START + DAY);
    expect(report.firings.map((f) => f.eventIds)).toEqual([[failures[failures.length - 1]?.id]]);
  });

  it("finds use outside the organization's business hours in its time zone", async () => {
    const settings = await t().call({
      method: 'PUT',
      url: `/v1/organizations/${t().org}/detection-settings`,
      payload: {
        timezone: 'America/New_York',
        businessStart: 8,
        businessEnd: 20,
        businessDays: [1, 2, 3, 4, 5],
      },
    });
    expect(settings.statusCode, settings.body).toBe(200);
    const id = await createRule(t(), {
      name: 'After hours',
      on: ['api_key.used'],
      condition: '!businessHours(time, org) && hourIn(time, "America/New_York") < 6',
      threshold: { count: 1, window: '1h', groupBy: ['target.id'] },
      cooldown: '12h',
      actions: [],
    });
    const report = await backtest(t(), id);
    // Nights 00:00–06:00 New York (05:00–11:00 UTC) on the five weekdays that have traffic then, once per 12 h cooldown.
    expect(report.firings.length).toBe(5);
    for (const f of report.firings) {
      const hourNy = (new Date(f.at).getUTCHours() + 24 - 5) % 24;
      expect(hourNy).toBeLessThan(6);
    }
  });

  it('refuses a range that ends before it starts (422)', async () => {
    const id = await createRule(t(), { name: 'x', on: ['auth.failed'], actions: [] });
    const res = await t().call({
      method: 'POST',
      url: `/v1/organizations/${t().org}/rules/${id}/backtest`,
      payload: { from: new Date(WEEK_START + DAY).toISOString(), to: new Date(WEEK_START).toISOString() },
    });
    expect(res.statusCode).toBe(422);
  });
});
