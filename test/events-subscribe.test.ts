import { expect, it } from 'vitest';
import { buildEvent } from '../src/domain/audit/events.ts';
import { systemContext } from '../src/domain/shared/types.ts';
import type { StoredEvent } from '../src/store/repos/events.ts';
import { describeEachDb } from './helpers/each-db.ts';

describeEachDb('In-process event subscriptions (services.events.subscribe)', (t) => {
  it('hands each committed event to a subscriber once, in commit order, filtered by type', async () => {
    const seen: string[] = [];
    const off = t().services.events.subscribe({
      name: 'test-once',
      types: ['role.*'],
      async handle(events) {
        seen.push(...events.map((e) => String(e.data.key)));
      },
    });
    try {
      const mk = (key: string) =>
        buildEvent(t().clock, systemContext, {
          organizationId: t().org,
          type: 'role.created',
          data: { key },
        });
      await t().services.store.transaction((tx) => tx.events.append([mk('s-1'), mk('s-2')]));
      await t().services.store.transaction((tx) =>
        tx.events.append([
          mk('s-3'),
          buildEvent(t().clock, systemContext, {
            organizationId: t().org,
            type: 'user.created',
            data: { key: 'no' },
          }),
        ]),
      );
      await t().services.events.drain();
      await t().services.events.drain();
      expect(seen).toEqual(['s-1', 's-2', 's-3']);
    } finally {
      off();
    }
  });

  it('offers the batch again when the subscriber throws, and commits what it wrote with the consumption', async () => {
    let calls = 0;
    const off = t().services.events.subscribe({
      name: 'test-retry',
      types: ['role.deleted'],
      async handle(events: readonly StoredEvent[], tx) {
        calls++;
        if (calls === 1) throw new Error('transient');
        // What a rules engine does: write a follow-up event in the same transaction.
        await tx.events.append(
          events.map((e) =>
            buildEvent(t().clock, systemContext, {
              organizationId: e.organizationId,
              type: 'rule.triggered',
              data: { ruleId: 'rul_test', version: 1, eventIds: [e.id], actions: [] },
            }),
          ),
        );
      },
    });
    try {
      await t().services.store.transaction((tx) =>
        tx.events.append([
          buildEvent(t().clock, systemContext, {
            organizationId: t().org,
            type: 'role.deleted',
            data: { key: 'x' },
          }),
        ]),
      );
      await expect(t().services.events.drain()).rejects.toThrow('transient');
      expect(await t().services.store.outbox.pending()).toBeGreaterThan(0);
      await t().services.events.drain();
      expect(calls).toBe(2);
      expect(await t().services.store.outbox.pending()).toBe(0);
      const triggered = await t().services.store.events.list(t().org, { type: 'rule.triggered', limit: 10 });
      expect(triggered).toHaveLength(1);
    } finally {
      off();
    }
  });
});
