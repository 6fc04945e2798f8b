import { beforeAll, expect, it } from 'vitest';
import { describeEachDb } from './helpers/each-db.ts';

describeEachDb(
  '/v1/organizations/:org/rules',
  (t) => {
    beforeAll(async () => {
      await t().services.rules.drain();
    });

    it('creates, versions and deletes a rule, auditing every change', async () => {
      const url = `/v1/organizations/${t().org}/rules`;
      const created = await t().call({
        method: 'POST',
        url,
        payload: {
          name: 'Failures from outside the office',
          on: ['auth.failed'],
          condition: '!inCidr(ip, ["10.0.0.0/8", "192.168.0.0/16"])',
          threshold: { count: 5, window: '5m', groupBy: ['ip'] },
        },
      });
      expect(created.statusCode, created.body).toBe(201);
      const rule = created.json();
      expect(rule).toMatchObject({
        version: 1,
        mode: 'enforce',
        enabled: true,
        maxActionsPerHour: 10,
        cooldown: null,
      });

      const patched = await t().call({
        method: 'PATCH',
        url: `${url}/${rule.id}`,
        payload: { mode: 'monitor', cooldown: '30m' },
      });
      expect(patched.statusCode, patched.body).toBe(200);
      expect(patched.json()).toMatchObject({ version: 2, mode: 'monitor', cooldown: '30m', name: rule.name });

      const versions = await t().call({ method: 'GET', url: `${url}/${rule.id}/versions` });
      expect(
        versions
          .json()
          .data.map((v: { version: number; rule: { mode: string } }) => [v.version, v.rule.mode]),
      ).toEqual([
        [2, 'monitor'],
        [1, 'enforce'],
      ]);

      expect((await t().call({ method: 'DELETE', url: `${url}/${rule.id}` })).statusCode).toBe(204);
      expect((await t().call({ method: 'GET', url: `${url}/${rule.id}` })).statusCode).toBe(404);

      const audit = await t().call({
        method: 'GET',
        url: `/v1/organizations/${t().org}/audit-logs?type=rule.*&limit=200`,
      });
      const mine = (audit.json().data as Array<{ type: string; target: { id: string } }>).filter(
        (e) => e.target?.id === rule.id,
      );
      expect(mine.map((e) => e.type).sort()).toEqual(['rule.created', 'rule.deleted', 'rule.updated']);
    });

    it('refuses a condition of the wrong type and a bad duration (422)', async () => {
      const url = `/v1/organizations/${t().org}/rules`;
      const notBool = await t().call({
        method: 'POST',
        url,
        payload: { name: 'x', on: ['auth.failed'], condition: 'ip' },
      });
      expect(notBool.statusCode).toBe(422);
      expect(notBool.json().code).toBe('invalid_condition');
      const unknownFn = await t().call({
        method: 'POST',
        url,
        payload: { name: 'x', on: ['auth.failed'], condition: 'ip == "a" &&\n  nosuch(ip)' },
      });
      expect(unknownFn.json().detail).toContain('line 2, column 3');
      const cron = await t().call({
        method: 'POST',
        url,
        payload: { name: 'x', schedule: 'every tuesday', check: { kind: 'key-unused' } },
      });
      expect(cron.statusCode).toBe(422);
      expect(cron.json().errors[0].location).toBe('/body/schedule');
      const channel = await t().call({
        method: 'POST',
        url,
        payload: {
          name: 'x',
          on: ['auth.failed'],
          actions: [{ type: 'alert', channels: ['ach_00000000000000000000000000'] }],
        },
      });
      expect(channel.statusCode).toBe(422);
      expect(channel.json().errors[0].location).toBe('/body/actions/0/channels/0');
    });

    it('needs rules:write to change rules and answers 404 for another organization', async () => {
      const reader = await t().createKey(['rules:read']);
      const denied = await t().call({
        method: 'POST',
        url: `/v1/organizations/${t().org}/rules`,
        key: reader.key,
        payload: { name: 'x', on: ['auth.failed'] },
      });
      expect(denied.statusCode).toBe(403);
      const other = await t().createOrganization();
      const rules = await t().call({ method: 'GET', url: `/v1/organizations/${other.org}/rules` });
      expect(rules.statusCode).toBe(404);
    });

    it('installs the default detectors for a new organization through its organization.created event', async () => {
      const other = await t().createOrganization('Tenant B');
      await t().services.rules.drain();
      const res = await t().call({
        method: 'GET',
        url: `/v1/organizations/${other.org}/rules`,
        key: other.ownerKey,
      });
      expect(res.json().data.length).toBe(11);
      const again = await t().call({
        method: 'POST',
        url: `/v1/organizations/${other.org}/rule-templates/install`,
        key: other.ownerKey,
        payload: { templates: [] },
      });
      expect(again.json().data).toEqual([]);
    });

    it('fires the honeytoken detector on any use of a decoy key', async () => {
      const decoy = await t().createKey([]);
      const flag = await t().call({
        method: 'PUT',
        url: `/v1/organizations/${t().org}/api-keys/${decoy.id}/decoy`,
        payload: { decoy: true },
      });
      expect(flag.statusCode, flag.body).toBe(200);
      await t().services.rules.drain();
      await t().call({ method: 'GET', url: '/v1/users/me', key: decoy.key, remoteAddress: '198.51.100.250' });
      await t().services.batch.flush();
      await t().services.rules.drain();
      const rules = await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/rules?limit=100` });
      const honeytoken = (rules.json().data as Array<{ id: string; template: string }>).find(
        (r) => r.template === 'honeytoken',
      );
      const firings = await t().call({
        method: 'GET',
        url: `/v1/organizations/${t().org}/rules/${honeytoken?.id}/firings`,
      });
      expect(firings.json().data).toHaveLength(1);
      expect(firings.json().data[0].groupKey).toBe('*');
    });

    it('runs scheduled key checks: never-used keys are reported once per cooldown and optionally revoked', async () => {
      const stale = await t().createKey(['users:read']);
      const res = await t().call({
        method: 'POST',
        url: `/v1/organizations/${t().org}/rules`,
        payload: {
          name: 'Keys never used within a week',
          schedule: '0 6 * * *',
          check: { kind: 'key-never-used', days: 7 },
          cooldown: '7d',
          actions: [{ type: 'revoke_api_key' }],
        },
      });
      expect(res.statusCode, res.body).toBe(201);
      const id = res.json().id;
      t().clock.advance(8 * 86_400_000);
      const run = await t().call({ method: 'POST', url: `/v1/organizations/${t().org}/rules/${id}/run` });
      expect(run.statusCode, run.body).toBe(200);
      expect(run.json().fired).toBeGreaterThanOrEqual(1);
      const key = await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/api-keys/${stale.id}` });
      expect(key.json().status).toBe('revoked');
      const owner = await t().call({ method: 'GET', url: '/v1/users/me' });
      expect(owner.statusCode).toBe(200); // the owner key was never used by the check either way: protected
      const audit = await t().call({
        method: 'GET',
        url: `/v1/organizations/${t().org}/audit-logs?type=api_key.never_used`,
      });
      expect(audit.json().data.some((e: { target: { id: string } }) => e.target.id === stale.id)).toBe(true);
      const again = await t().call({ method: 'POST', url: `/v1/organizations/${t().org}/rules/${id}/run` });
      expect(again.json().fired).toBe(0);
    });
  },
  { env: { LATCHKEY_OUTBOUND_ALLOWLIST: '127.0.0.1' } },
);
