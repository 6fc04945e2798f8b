import { errors } from 'oidc-provider';
import { expect, it } from 'vitest';
import { adapterFactory, REFRESH_GRACE_MS } from '../src/domain/oauth/adapter.ts';
import { describeEachDb } from './helpers/each-db.ts';

describeEachDb('oidc-provider storage adapter', (t) => {
  const make = (model: string, organizationId = t().org) => {
    const Adapter = adapterFactory({
      organizationId,
      store: t().services.store,
      clock: t().clock,
      clients: { find: async () => undefined },
      sessionTimeouts: () => ({ idle: 3600, absolute: 86_400 }),
    });
    return new Adapter(model);
  };

  it('stores, finds by id, uid and user code, and expires payloads', async () => {
    const interaction = make('Interaction');
    await interaction.upsert('i1', { uid: 'u1', kind: 'Interaction' }, 60);
    expect(await interaction.find('i1')).toMatchObject({ uid: 'u1' });
    expect(await interaction.findByUid('u1')).toMatchObject({ uid: 'u1' });
    const device = make('DeviceCode');
    await device.upsert('d1', { userCode: 'ABCD-EFGH', grantId: 'g1' }, 60);
    expect(await device.findByUserCode('ABCD-EFGH')).toMatchObject({ grantId: 'g1' });
    t().clock.advance(61_000);
    expect(await interaction.find('i1')).toBeUndefined();
  });

  it('keeps organizations apart', async () => {
    const other = await t().createOrganization('Tenant B');
    await make('AccessToken').upsert('shared-id', { accountId: 'a' }, 60);
    expect(await make('AccessToken', other.org).find('shared-id')).toBeUndefined();
  });

  it('consumes an authorization code exactly once under concurrency', async () => {
    const codes = make('AuthorizationCode');
    await codes.upsert('c1', { grantId: 'g-c1' }, 60);
    await make('AccessToken').upsert('at-c1', { grantId: 'g-c1' }, 60);
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => codes.consume('c1')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(failures).toHaveLength(9);
    for (const f of failures) expect(f.reason).toBeInstanceOf(errors.InvalidGrant);
    // RFC 6749 §4.1.2: a second use revokes what the code issued.
    expect(await make('AccessToken').find('at-c1')).toBeUndefined();
  });

  it('lets a rotated refresh token be used again only inside the grace window', async () => {
    const tokens = make('RefreshToken');
    await tokens.upsert('r1', { grantId: 'g-r1' }, 3600);
    await tokens.consume('r1');
    expect((await tokens.find('r1'))?.consumed).toBeUndefined();
    await expect(tokens.consume('r1')).resolves.toBeUndefined();
    t().clock.advance(REFRESH_GRACE_MS + 1);
    expect((await tokens.find('r1'))?.consumed).toBeTypeOf('number');
  });

  it('revokes a whole grant family', async () => {
    await make('RefreshToken').upsert('f1', { grantId: 'fam' }, 3600);
    await make('AccessToken').upsert('f2', { grantId: 'fam' }, 3600);
    await make('Grant').upsert('fam', { accountId: 'x' }, 3600);
    await make('RefreshToken').revokeByGrantId('fam');
    expect(await make('RefreshToken').find('f1')).toBeUndefined();
    expect(await make('AccessToken').find('f2')).toBeUndefined();
    expect(await make('Grant').find('fam')).toBeUndefined();
  });

  it('caps a session at the idle timeout from its last save', async () => {
    const sessions = make('Session');
    const loginTs = Math.floor(t().clock.now().getTime() / 1000);
    await sessions.upsert('s1', { uid: 'su1', accountId: 'usr', loginTs }, 86_400);
    t().clock.advance(3_599_000);
    expect(await sessions.find('s1')).toBeTruthy();
    t().clock.advance(2_000);
    expect(await sessions.find('s1')).toBeUndefined();
  });
});
