import { beforeAll, describe, expect, it } from 'vitest';
import { validateDefinition } from '../src/domain/rules/service.ts';
import { RULE_TEMPLATES } from '../src/domain/rules/templates.ts';
import type { TestApp } from './helpers/app.ts';
import { describeEachDb } from './helpers/each-db.ts';

describe('built-in detector templates', () => {
  it.each(RULE_TEMPLATES.map((t) => [t.id, t] as const))(
    '%s is a valid monitor-mode rule',
    (_id, template) => {
      expect(() => validateDefinition(template.definition)).not.toThrow();
      expect(template.definition.mode).toBe('monitor');
    },
  );
});

async function templateRule(t: TestApp, template: string): Promise<string> {
  const res = await t.call({ method: 'GET', url: `/v1/organizations/${t.org}/rules?limit=100` });
  const rule = (res.json().data as Array<{ id: string; template: string | null }>).find(
    (r) => r.template === template,
  );
  if (!rule) throw new Error(`template ${template} not installed`);
  return rule.id;
}

async function firings(t: TestApp, ruleId: string) {
  const res = await t.call({ method: 'GET', url: `/v1/organizations/${t.org}/rules/${ruleId}/firings` });
  return res.json().data as Array<{
    groupKey: string;
    results: Array<{ type: string; outcome: string; reason?: string }>;
  }>;
}

describeEachDb('built-in detectors, live', (t) => {
  beforeAll(async () => {
    await t().services.rules.drain();
  });

  it('notices a revoked key still being tried (monitor: the IP is not blocked)', async () => {
    const { id, key } = await t().createKey(['users:read']);
    await t().call({ method: 'DELETE', url: `/v1/organizations/${t().org}/api-keys/${id}` });
    const refused = await t().call({
      method: 'GET',
      url: '/v1/users/me',
      key,
      remoteAddress: '198.51.100.33',
    });
    expect(refused.json().code).toBe('api_key_revoked');
    await t().services.batch.flush();
    await t().services.rules.drain();
    const fired = await firings(t(), await templateRule(t(), 'revoked-key-used'));
    expect(fired.map((f) => f.groupKey)).toContain(id);
    expect(fired[0]?.results.find((r) => r.type === 'block_ip')).toMatchObject({
      outcome: 'skipped',
      reason: 'monitor mode',
    });
    const again = await t().call({ method: 'GET', url: '/v1/users/me', remoteAddress: '198.51.100.33' });
    expect(again.statusCode).toBe(200);
  });

  it('notices a key used from an address it has not used before', async () => {
    const { id, key } = await t().createKey(['users:read']);
    const ruleId = await templateRule(t(), 'key-new-ip');
    await t().call({ method: 'GET', url: '/v1/users/me', key, remoteAddress: '192.0.2.40' });
    await t().call({ method: 'GET', url: '/v1/users/me', key, remoteAddress: '192.0.2.40' });
    await t().services.batch.flush();
    await t().services.rules.drain();
    const first = (await firings(t(), ruleId)).filter((f) => f.groupKey === id);
    expect(first).toHaveLength(1);
    await t().call({ method: 'GET', url: '/v1/users/me', key, remoteAddress: '203.0.113.41' });
    await t().services.batch.flush();
    await t().services.rules.drain();
    expect((await firings(t(), ruleId)).filter((f) => f.groupKey === id)).toHaveLength(2);
  });
});
