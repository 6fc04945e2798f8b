import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { masterKeyFromBytes } from '../src/crypto/master-key.ts';
import { createServices } from '../src/services.ts';
import { createStore } from '../src/store/store.ts';
import { describeEachDb } from './helpers/each-db.ts';

describeEachDb('OAuth settings on two nodes without Redis', (t) => {
  it('another node reads a change within a minute, and at once after its own invalidation', async () => {
    // A second node on the same database and clock, with no invalidation bus between them.
    const other = createServices({
      store: createStore(t().testDb.db),
      clock: t().clock,
      masterKey: masterKeyFromBytes(randomBytes(32)),
      config: t().config,
    });
    expect((await other.oauth.settings.get(t().org)).mfaRequired).toBe(false);
    const res = await t().call({
      method: 'PATCH',
      url: `/v1/organizations/${t().org}/oauth-settings`,
      payload: { mfaRequired: true },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect((await other.oauth.settings.get(t().org)).mfaRequired).toBe(false); // cached
    t().clock.advance(61_000);
    expect((await other.oauth.settings.get(t().org)).mfaRequired).toBe(true);

    await t().call({
      method: 'PATCH',
      url: `/v1/organizations/${t().org}/oauth-settings`,
      payload: { mfaRequired: false },
    });
    other.oauth.settings.invalidate(t().org); // what a Redis message does
    expect((await other.oauth.settings.get(t().org)).mfaRequired).toBe(false);
    expect(other.oauth.settings.cached(t().org).mfaRequired).toBe(false);
    await other.batch.stop();
  });
});
