import { randomBytes } from 'node:crypto';
import { beforeAll, expect, it } from 'vitest';
import { newId } from '../src/crypto/ids.ts';
import { masterKeyFromBytes } from '../src/crypto/master-key.ts';
import { createServices } from '../src/services.ts';
import type { EventRecord } from '../src/store/repos/events.ts';
import { createStore } from '../src/store/store.ts';
import type { TestApp } from './helpers/app.ts';
import { describeEachDb } from './helpers/each-db.ts';

function probe(t: TestApp, type: string): EventRecord {
  const now = t.clock.now();
  return {
    id: newId('evt', now.getTime()),
    organizationId: t.org,
    type,
    time: now.toISOString(),
    actor: { type: 'anonymous', id: null, display: null },
    target: null,
    outcome: 'failure',
    ip: '192.0.2.5',
    userAgent: null,
    requestId: null,
    data: {},
  };
}

async function rule(t: TestApp, type: string, count: number): Promise<string> {
  const res = await t.call({
    method: 'POST',
    url: `/v1/organizations/${t.org}/rules`,
    payload: { name: `probe ${type}`, on: [type], threshold: { count, window: '10m' }, actions: [] },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id;
}

async function triggered(t: TestApp, ruleId: string): Promise<number> {
  const res = await t.call({
    method: 'GET',
    url: `/v1/organizations/${t.org}/audit-logs?type=rule.triggered&limit=200`,
  });
  return (res.json().data as Array<{ data: { ruleId: string } }>).filter((e) => e.data.ruleId === ruleId)
    .length;
}

/** A second process on the same database: its own engine, caches and consumer state. */
function restart(t: TestApp) {
  return createServices({
    store: createStore(t.testDb.db),
    clock: t.clock,
    masterKey: masterKeyFromBytes(randomBytes(32)),
    config: t.config,
  });
}

describeEachDb('Rules consumer: durable cursor over the events table', (t, target) => {
  beforeAll(async () => {
    await t().services.rules.drain();
  });

  it('resumes after a restart with its windows rebuilt from stored events', async () => {
    const id = await rule(t(), 'custom.restart', 3);
    await t().services.store.events.append([probe(t(), 'custom.restart'), probe(t(), 'custom.restart')]);
    await t().services.rules.drain();
    expect(await triggered(t(), id)).toBe(0);

    const second = restart(t());
    await second.rules.drain(); // warms windows from the last hour of events below its cursor
    await t().services.store.events.append([probe(t(), 'custom.restart')]);
    await second.rules.drain();
    expect(await triggered(t(), id)).toBe(1);
    await second.rules.stop();
  });

  it('acts once on evidence that is delivered twice (cursor moved back, at-least-once)', async () => {
    const id = await rule(t(), 'custom.twice', 2);
    const cursorBefore = (await t().services.store.rules.cursor('rules')) ?? 0;
    await t().services.store.events.append([probe(t(), 'custom.twice'), probe(t(), 'custom.twice')]);
    await t().services.rules.drain();
    expect(await triggered(t(), id)).toBe(1);

    await t().services.store.rules.saveCursor('rules', cursorBefore, t().clock.now().toISOString());
    const replay = restart(t());
    await replay.rules.drain();
    expect(await triggered(t(), id)).toBe(1);
    await replay.rules.stop();
  });

  it('runs the actions of a firing claimed by a process that died before acting', async () => {
    const user = await t().call({
      method: 'POST',
      url: `/v1/organizations/${t().org}/users`,
      payload: { email: 'crash@example.com' },
    });
    const userId = user.json().id as string;
    const res = await t().call({
      method: 'POST',
      url: `/v1/organizations/${t().org}/rules`,
      payload: {
        name: 'lock on probe',
        on: ['custom.crash'],
        actions: [{ type: 'lock_user', duration: '1h', target: 'data.userId' }],
      },
    });
    const rule = res.json();
    const e = { ...probe(t(), 'custom.crash'), data: { userId } };
    await t().services.store.events.append([e]);
    // What a process leaves behind when it dies right after claiming: the firing, not its actions.
    await t().services.store.rules.claimFiring({
      id: 'fir_crashcrashcrashcrashcrash12',
      organizationId: t().org,
      ruleId: rule.id,
      ruleVersion: 1,
      groupKey: '*',
      firedAt: t().clock.now().toISOString(),
      eventIds: [e.id],
      status: 'pending',
      actionsTaken: 0,
      results: [],
    });
    await t().services.store.rules.saveCursor(
      'rules',
      await t().services.store.ruleEvents.maxSeq(),
      t().clock.now().toISOString(),
    );
    t().clock.advance(5 * 60_000);
    const next = restart(t());
    await next.rules.drain();
    const lock = await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/users/${userId}/lock` });
    expect(lock.json().locked).toBe(true);
    await next.rules.stop();
  });

  it.runIf(target === 'postgres')(
    'does not lose an event whose lower seq commits after a higher one',
    async () => {
      const id = await rule(t(), 'custom.late', 2);
      const store = t().services.store;
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let inserted: () => void = () => {};
      const early = new Promise<void>((resolve) => {
        inserted = resolve;
      });
      const slow = store.transaction(async (tx) => {
        await tx.events.append([probe(t(), 'custom.late')]); // takes seq n, not yet visible
        inserted();
        await gate;
      });
      await early;
      await store.events.append([probe(t(), 'custom.late')]); // seq n+1, committed first
      await t().services.rules.drain();
      expect(await triggered(t(), id)).toBe(0);

      release();
      await slow;
      await t().services.rules.drain();
      expect(await triggered(t(), id)).toBe(1);
    },
  );
});
