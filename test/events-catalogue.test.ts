import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { expect, it } from 'vitest';
import { EVENT_TYPES, eventTypeSpec, matchesFilter } from '../src/events/catalogue.ts';
import { openApiWebhooks, renderEventsDoc } from '../src/events/docs.ts';
import { describeEachDb } from './helpers/each-db.ts';

const ROOT = join(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

it('docs/events.md is generated from the catalogue (npm run docs)', () => {
  expect(readFileSync(join(ROOT, 'docs/events.md'), 'utf8')).toBe(renderEventsDoc());
});

it("openapi.json's webhooks section is generated from the catalogue (run npm run openapi)", () => {
  const committed = JSON.parse(readFileSync(join(ROOT, 'openapi.json'), 'utf8')) as { webhooks: unknown };
  expect(committed.webhooks).toEqual(openApiWebhooks());
  expect(Object.keys(committed.webhooks as object).sort()).toEqual(EVENT_TYPES.map((e) => e.type).sort());
});

it('lists every event type the code emits (type literals in src/domain)', () => {
  const emitted = new Set<string>();
  for (const file of sources(join(ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/type: '([a-z_]+(?:\.[a-z_]+)+)'/g)) emitted.add(m[1] as string);
    for (const m of text.matchAll(/event\([^,]+,\s*[^,]+,\s*'([a-z_]+(?:\.[a-z_]+)+)'/g))
      emitted.add(m[1] as string);
  }
  expect(emitted.size).toBeGreaterThan(10);
  const missing = [...emitted].filter((type) => !eventTypeSpec(type));
  expect(missing).toEqual([]);
});

it('has unique, dotted types and a compilable schema for each', () => {
  const ajv = new Ajv({ strict: false });
  expect(new Set(EVENT_TYPES.map((e) => e.type)).size).toBe(EVENT_TYPES.length);
  for (const e of EVENT_TYPES) {
    expect(e.type).toMatch(/^[a-z_]+(\.[a-z_]+)+$/);
    expect(() => ajv.compile(JSON.parse(JSON.stringify(e.data)))).not.toThrow();
  }
});

it('matches filters: *, exact types and prefix wildcards', () => {
  expect(matchesFilter('*', 'user.created')).toBe(true);
  expect(matchesFilter('api_key.*', 'api_key.revoked')).toBe(true);
  expect(matchesFilter('api_key.*', 'auth.failed')).toBe(false);
  expect(matchesFilter('user.*', 'user.login.failed')).toBe(true);
  expect(matchesFilter('user.login.*', 'user.locked')).toBe(false);
  expect(matchesFilter('user.created', 'user.created')).toBe(true);
  expect(matchesFilter('user.created', 'user.created.extra')).toBe(false);
});

describeEachDb('GET /v1/event-types', (t) => {
  it('lists the catalogue with the JSON schema of each data', async () => {
    const res = await t().call({ method: 'GET', url: '/v1/event-types' });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { data: { type: string; schema: { type: string } }[] };
    expect(body.data.map((e) => e.type)).toEqual(EVENT_TYPES.map((e) => e.type));
    expect(body.data.find((e) => e.type === 'api_key.revoked')?.schema.type).toBe('object');
  });

  it('emits data that validates against the catalogue schema', async () => {
    await t().call({
      method: 'POST',
      url: `/v1/organizations/${t().org}/users`,
      payload: { email: 'schema@example.com' },
    });
    await t().createKey(['users:read']);
    await t().services.batch.flush();
    const events = await t().services.store.events.afterSeq(0, 1000);
    const ajv = new Ajv({ strict: false });
    for (const e of events) {
      const spec = eventTypeSpec(e.type);
      expect(spec, e.type).toBeDefined();
      const validate = ajv.compile(JSON.parse(JSON.stringify(spec?.data)));
      expect(validate(e.data), `${e.type}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });

  it('needs a credential (401)', async () => {
    expect((await t().call({ method: 'GET', url: '/v1/event-types', key: null })).statusCode).toBe(401);
  });
});
