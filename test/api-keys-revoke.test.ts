import { expect, it } from 'vitest';
import { auditEvents, createKeyBody, keysUrl, me } from './helpers/api-keys.ts';
import { describeEachDb } from './helpers/each-db.ts';

describeEachDb('DELETE /v1/organizations/:org/api-keys/:id', (t) => {
  it('revokes with a reason from the JSON body, audited with key name, revoker and reason', async () => {
    const { id, key } = await createKeyBody(t(), { name: 'Decommissioned CI', permissions: ['users:read'] });
    const res = await t().call({
      method: 'DELETE',
      url: keysUrl(t(), id),
      payload: { reason: 'integration retired' },
    });
    expect(res.statusCode).toBe(204);
    expect((await me(t(), key)).json().code).toBe('api_key_revoked');
    const got = (await t().call({ method: 'GET', url: keysUrl(t(), id) })).json();
    expect(got).toMatchObject({ status: 'revoked', revokedReason: 'integration retired' });
    const [event] = await auditEvents(t(), 'api_key.revoked', { targetId: id });
    expect(event?.data).toMatchObject({
      name: 'Decommissioned CI',
      reason: 'integration retired',
      revokedBy: 'Owner key',
    });
    expect(event?.actor.type).toBe('api_key');
  });

  it('takes the reason from the query string too, and without any reason', async () => {
    const a = await createKeyBody(t(), { permissions: ['users:read'] });
    expect(
      (await t().call({ method: 'DELETE', url: `${keysUrl(t(), a.id)}?reason=rotated` })).statusCode,
    ).toBe(204);
    expect((await t().call({ method: 'GET', url: keysUrl(t(), a.id) })).json().revokedReason).toBe('rotated');
    const b = await createKeyBody(t(), { permissions: ['users:read'] });
    expect((await t().call({ method: 'DELETE', url: keysUrl(t(), b.id) })).statusCode).toBe(204);
    expect((await t().call({ method: 'GET', url: keysUrl(t(), b.id) })).json().revokedReason).toBeNull();
  });

  it('refuses unknown body fields (422) and another organization answers 404', async () => {
    const a = await createKeyBody(t(), { permissions: ['users:read'] });
    const bad = await t().call({ method: 'DELETE', url: keysUrl(t(), a.id), payload: { why: 'x' } });
    expect(bad.statusCode).toBe(422);
    const other = await t().createOrganization();
    const foreign = await t().call({
      method: 'DELETE',
      url: `/v1/organizations/${other.org}/api-keys/${a.id}`,
      key: other.ownerKey,
    });
    expect(foreign.statusCode).toBe(404);
    expect((await me(t(), a.key)).statusCode).toBe(200);
  });

  it('evicts a cached key: a key verified a moment ago is refused right after the 204', async () => {
    const { id, key } = await createKeyBody(t(), { permissions: ['users:read'] });
    for (let i = 0; i < 3; i++) expect((await me(t(), key)).statusCode).toBe(200);
    await t().call({ method: 'DELETE', url: keysUrl(t(), id) });
    const res = await me(t(), key);
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('api_key_revoked');
  });

  it('under concurrent load, no request that starts after the revoke response succeeds', async () => {
    const { id, key } = await createKeyBody(t(), { permissions: ['users:read'] });
    let revoked = false;
    let revoke: Promise<void> | undefined;
    const before: number[] = [];
    const after: number[] = [];
    // Eight workers keep requests in flight before, during and after the revoke; bounded in count.
    // The revoke is launched from inside the load (inject never yields to timers) and not awaited there.
    const worker = async () => {
      for (let i = 0; i < 2000 && after.length < 200; i++) {
        if (!revoke && before.length >= 50) {
          revoke = t()
            .call({ method: 'DELETE', url: keysUrl(t(), id) })
            .then((res) => {
              expect(res.statusCode).toBe(204);
              revoked = true;
            });
        }
        const startedAfterRevoke = revoked;
        const res = await me(t(), key);
        (startedAfterRevoke ? after : before).push(res.statusCode);
        // inject() never does I/O; yield so the revoke's database round trips (PostgreSQL) can progress.
        await new Promise((r) => setImmediate(r));
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    await revoke;
    expect(before.filter((s) => s === 200).length).toBeGreaterThanOrEqual(50);
    // Requests in flight while the revoke ran may go either way; they started before its response.
    expect(after.length).toBeGreaterThanOrEqual(200);
    expect(after.filter((s) => s !== 401)).toEqual([]);
  });
});
