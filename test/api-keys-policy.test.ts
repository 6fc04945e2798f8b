import { expect, it } from 'vitest';
import { auditEvents, createKeyBody, keysUrl } from './helpers/api-keys.ts';
import { describeEachDb } from './helpers/each-db.ts';

const DAY = 86_400_000;

describeEachDb('API key policy and rotation due', (t) => {
  const policyUrl = () => `/v1/organizations/${t().org}/api-key-policy`;

  it('has seed 004 defaults: admin 30d, read-write 60d, read-only 90d, no required expiry', async () => {
    const res = await t().call({ method: 'GET', url: policyUrl() });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      requireExpiry: false,
      maxLifetime: null,
      rotationPeriods: { admin: '30d', 'read-write': '60d', 'read-only': '90d' },
      updatedAt: null,
    });
  });

  it('flags keys past their rotation period in listings and writes api_key.rotation_due once', async () => {
    const admin = await createKeyBody(t(), { name: 'ci', scope: 'admin' });
    const ro = await createKeyBody(t(), { name: 'siem', scope: 'read-only' });
    const custom = await createKeyBody(t(), { name: 'custom', permissions: ['reports:read'] });
    expect(admin.rotationDue).toBe(false);
    expect(Date.parse(admin.rotationDueAt as string) - Date.parse(admin.createdAt as string)).toBe(30 * DAY);
    expect(Date.parse(custom.rotationDueAt as string) - Date.parse(custom.createdAt as string)).toBe(
      90 * DAY,
    );

    t().clock.advance(31 * DAY);
    const due = await t().call({ method: 'GET', url: `${keysUrl(t())}?rotationDue=true&limit=200` });
    const dueIds = due.json().data.map((k: { id: string }) => k.id);
    expect(dueIds).toContain(admin.id);
    expect(dueIds).not.toContain(ro.id);
    expect(due.json().data.every((k: { rotationDue: boolean }) => k.rotationDue)).toBe(true);
    const notDue = await t().call({ method: 'GET', url: `${keysUrl(t())}?rotationDue=false&limit=200` });
    expect(notDue.json().data.map((k: { id: string }) => k.id)).toContain(ro.id);

    await t().services.apiKeySweeper.sweep();
    await t().services.apiKeySweeper.sweep();
    const events = await auditEvents(t(), 'api_key.rotation_due', { targetId: admin.id });
    expect(events).toHaveLength(1);
    expect(events[0]?.data).toMatchObject({ name: 'ci', tier: 'admin' });
    expect(await auditEvents(t(), 'api_key.rotation_due', { targetId: ro.id })).toHaveLength(0);

    // Rotating clears the flag: the new key is not due and the old one is being replaced.
    const rotated = await t().call({
      method: 'POST',
      url: `${keysUrl(t(), admin.id)}/rotate`,
      payload: { overlap: '0' },
    });
    expect(rotated.json().rotationDue).toBe(false);
    expect(rotated.json().previous.rotationDue).toBe(false);

    t().clock.advance(60 * DAY);
    await t().services.apiKeySweeper.sweep();
    expect(await auditEvents(t(), 'api_key.rotation_due', { targetId: ro.id })).toHaveLength(1);
  });

  it('PUT changes the policy: required expiry and maximum lifetime are enforced (422 api_key_policy_violation)', async () => {
    const put = await t().call({
      method: 'PUT',
      url: policyUrl(),
      payload: { requireExpiry: true, maxLifetime: '90d', rotationPeriods: { admin: '7d' } },
    });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({
      requireExpiry: true,
      maxLifetime: '90d',
      rotationPeriods: { admin: '7d', 'read-write': '60d', 'read-only': '90d' },
    });
    expect((await t().call({ method: 'GET', url: policyUrl() })).json().maxLifetime).toBe('90d');

    const none = await t().call({
      method: 'POST',
      url: keysUrl(t()),
      payload: { name: 'x', scope: 'read-only' },
    });
    expect(none.statusCode).toBe(422);
    expect(none.json()).toMatchObject({ code: 'api_key_policy_violation' });
    const tooLong = await t().call({
      method: 'POST',
      url: keysUrl(t()),
      payload: { name: 'x', scope: 'read-only', expiresIn: '365d' },
    });
    expect(tooLong.json().code).toBe('api_key_policy_violation');
    expect(tooLong.json().detail).toContain('90d');
    const ok = await t().call({
      method: 'POST',
      url: keysUrl(t()),
      payload: { name: 'x', scope: 'admin', expiresIn: '30d' },
    });
    expect(ok.statusCode).toBe(201);
    expect(Date.parse(ok.json().rotationDueAt) - Date.parse(ok.json().createdAt)).toBe(7 * DAY);

    const [event] = await auditEvents(t(), 'api_key_policy.updated');
    expect(event?.data).toMatchObject({ after: { requireExpiry: true, maxLifetime: '90d' } });

    await t().call({ method: 'PUT', url: policyUrl(), payload: { requireExpiry: false, maxLifetime: null } });
  });

  it('refuses bad durations and unknown fields (422); needs api-keys:write to change', async () => {
    const bad = await t().call({ method: 'PUT', url: policyUrl(), payload: { maxLifetime: 'forever' } });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().errors[0].location).toBe('/body/maxLifetime');
    const unknown = await t().call({
      method: 'PUT',
      url: policyUrl(),
      payload: { rotationPeriods: { owner: '1d' } },
    });
    expect(unknown.json().errors).toEqual([
      { location: '/body/rotationPeriods/owner', message: 'unknown field' },
    ]);
    const reader = await t().createKey(['api-keys:read']);
    expect((await t().call({ method: 'GET', url: policyUrl(), key: reader.key })).statusCode).toBe(200);
    const denied = await t().call({
      method: 'PUT',
      url: policyUrl(),
      key: reader.key,
      payload: { requireExpiry: true },
    });
    expect(denied.statusCode).toBe(403);
  });
});
