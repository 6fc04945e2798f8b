import { expect, it } from 'vitest';
import { systemContext } from '../src/domain/shared/types.ts';
import { describeEachDb } from './helpers/each-db.ts';

describeEachDb('a lock set by a rule applies to sign-in', (t) => {
  it('refuses the right password while users.locked_until is in the future, and accepts it after', async () => {
    const user = (
      await t().call({
        method: 'POST',
        url: `/v1/organizations/${t().org}/users`,
        payload: { email: 'locked@example.com' },
      })
    ).json();
    const password = 'correct horse battery staple 42';
    const set = await t().call({
      method: 'PUT',
      url: `/v1/organizations/${t().org}/users/${user.id}/password`,
      payload: { password },
    });
    expect(set.statusCode).toBeLessThan(300);
    const ctx = { ...systemContext, ip: '198.51.100.20' };
    const { credentials } = t().services.oauth;
    expect((await credentials.checkPassword(ctx, t().org, 'locked@example.com', password)).ok).toBe(true);

    const until = new Date(t().clock.now().getTime() + 30 * 60_000).toISOString();
    await t().services.store.detection.lockUser(t().org, user.id, until, t().clock.now().toISOString());
    const refused = await credentials.checkPassword(ctx, t().org, 'locked@example.com', password);
    expect(refused).toMatchObject({ ok: false, reason: 'locked' });

    t().clock.advance(31 * 60_000);
    expect((await credentials.checkPassword(ctx, t().org, 'locked@example.com', password)).ok).toBe(true);
  });
});
