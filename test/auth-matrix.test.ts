import { expect, it } from 'vitest';
import { generateApiKey } from '../src/crypto/api-key-format.ts';
import type { RouteInfo } from '../src/http/openapi.ts';
import type { TestApp } from './helpers/app.ts';
import { describeEachDb } from './helpers/each-db.ts';

/** A syntactically valid value for a path parameter, from its schema pattern (`^usr_[0-9a-z]{26}$`). */
function sampleParam(name: string, pattern: string | undefined, org: string): string {
  if (name === 'org') return org;
  const prefix = pattern ? /^\^([a-z]+)_\[0-9a-z\]\{26\}\$$/.exec(pattern)?.[1] : undefined;
  return prefix ? `${prefix}_${'0'.repeat(26)}` : 'sample';
}

function urlFor(route: RouteInfo, org: string): string {
  return route.url.replace(/:([A-Za-z]+)/g, (_m, name: string) =>
    sampleParam(name, route.params?.properties?.[name]?.pattern, org),
  );
}

const hasBody = (method: string) => ['POST', 'PUT', 'PATCH'].includes(method);

type Verdict = (
  status: number,
  body: { code?: string; detail?: string },
  route: RouteInfo,
  headers: Record<string, unknown>,
) => boolean;

/** Calls every route with `key` and returns a line for each answer the verdict rejects. */
async function sweep(t: TestApp, routes: RouteInfo[], key: string | null, ok: Verdict): Promise<string[]> {
  const failures: string[] = [];
  for (const route of routes) {
    const res = await t.call({
      method: route.method as 'GET',
      url: urlFor(route, t.org),
      key,
      ...(hasBody(route.method) ? { payload: {} } : {}),
    });
    const body = res.json();
    if (!ok(res.statusCode, body, route, res.headers)) {
      failures.push(`${route.method} ${route.url}: ${res.statusCode} ${body.code} ${body.detail ?? ''}`);
    }
  }
  return failures;
}

/**
 * The auth matrix runs for every authenticated route in the route table, so
 * a new route is covered by construction.
 */
describeEachDb('auth matrix: every authenticated route', (t) => {
  it('covers a non-trivial route table', () => {
    const routes = t().app.latchkey.routes.filter((r) => r.auth === 'required');
    expect(routes.length).toBeGreaterThan(15);
  });

  it('answers 401 with a distinct code and WWW-Authenticate for missing, malformed, unknown, revoked and expired keys', async () => {
    const revoked = await t().createKey([]);
    await t().call({ method: 'DELETE', url: `/v1/organizations/${t().org}/api-keys/${revoked.id}` });
    const expired = await t().createKey([], { expiresIn: '1m' });
    t().clock.advance(2 * 60_000);
    const unknown = generateApiKey('ak_live_');
    const malformed = `${unknown.slice(0, -1)}${unknown.endsWith('A') ? 'B' : 'A'}`;
    const cases: [string | null, string][] = [
      [null, 'missing_credentials'],
      [malformed, 'malformed_api_key'],
      ['not-a-key', 'malformed_api_key'],
      [unknown, 'invalid_api_key'],
      [revoked.key, 'api_key_revoked'],
      [expired.key, 'api_key_expired'],
    ];
    const routes = t().app.latchkey.routes.filter((r) => r.auth === 'required');
    const failures: string[] = [];
    for (const [key, code] of cases) {
      const verdict: Verdict = (status, body, _route, headers) =>
        status === 401 && body.code === code && Boolean(headers['www-authenticate']);
      failures.push(...(await sweep(t(), routes, key, verdict)));
    }
    expect(failures).toEqual([]);
  });

  it("answers 404 to another organization's owner key on every organization route, changing nothing", async () => {
    const other = await t().createOrganization('Tenant B');
    const before = await t().call({
      method: 'GET',
      url: `/v1/organizations/${t().org}/audit-logs?limit=200`,
    });
    const routes = t().app.latchkey.routes.filter((r) => r.auth === 'required' && r.url.includes(':org'));
    const failures = await sweep(
      t(),
      routes,
      other.ownerKey,
      (status, body) => status === 404 && body.code === 'not_found',
    );
    expect(failures).toEqual([]);
    const after = await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/audit-logs?limit=200` });
    const changes = (after.json().data as { type: string }[]).filter(
      (e) => !['api_key.used', 'auth.failed'].includes(e.type),
    );
    const changesBefore = (before.json().data as { type: string }[]).filter(
      (e) => !['api_key.used', 'auth.failed'].includes(e.type),
    );
    expect(changes.length).toBe(changesBefore.length);
  });

  it('answers 403 permission_denied naming the permission to a key without it', async () => {
    const { key } = await t().createKey([]);
    const routes = t().app.latchkey.routes.filter((r) => r.auth === 'required' && r.permission);
    const failures = await sweep(
      t(),
      routes,
      key,
      (status, body, route) =>
        status === 403 &&
        body.code === 'permission_denied' &&
        Boolean(body.detail?.includes(route.permission!)),
    );
    expect(failures).toEqual([]);
  });

  it('accepts the key as Authorization: ApiKey and as X-API-Key, and refuses it in the query string', async () => {
    const apiKeyScheme = await t().call({
      method: 'GET',
      url: '/v1/users/me',
      key: null,
      headers: { authorization: `ApiKey ${t().ownerKey}` },
    });
    expect(apiKeyScheme.statusCode).toBe(200);
    const header = await t().call({
      method: 'GET',
      url: '/v1/users/me',
      key: null,
      headers: { 'x-api-key': t().ownerKey },
    });
    expect(header.statusCode).toBe(200);
    const query = await t().call({ method: 'GET', url: `/v1/users/me?api_key=${t().ownerKey}`, key: null });
    expect(query.statusCode).toBe(400);
    expect(query.json().code).toBe('api_key_in_query');
    const queryOther = await t().call({
      method: 'GET',
      url: `/v1/organizations/${t().org}/users?email=${t().ownerKey}`,
    });
    expect(queryOther.json().code).toBe('api_key_in_query');
  });

  it('serves health, readiness and metrics without credentials and without private data', async () => {
    for (const url of ['/healthz', '/readyz', '/metrics']) {
      const res = await t().call({ method: 'GET', url, key: null });
      expect(res.statusCode).toBe(200);
      expect(res.body).not.toContain(t().org);
      expect(res.body).not.toContain('ak_live_');
    }
    const metrics = await t().call({ method: 'GET', url: '/metrics', key: null });
    expect(metrics.body).toContain('latchkey_http_requests_total');
    expect(metrics.body).not.toMatch(/route="[^"]*(org_|usr_|key_)/);
  });

  it('counts requests per route pattern and status, and unmatched URLs apart', async () => {
    const count = async (series: string) => {
      const body = (await t().call({ method: 'GET', url: '/metrics', key: null })).body;
      const line = body.split('\n').find((l) => l.startsWith(series));
      return line ? Number(line.slice(series.length + 1)) : 0;
    };
    const me = 'latchkey_http_requests_total{method="GET",route="/v1/users/me",status="200"}';
    const denied = `latchkey_http_requests_total{method="GET",route="/v1/organizations/:org/users/:id",status="404"}`;
    const unmatched = 'latchkey_http_requests_total{method="GET",route="unmatched",status="404"}';
    const before = [await count(me), await count(denied), await count(unmatched)];
    await t().call({ method: 'GET', url: '/v1/users/me' });
    await t().call({ method: 'GET', url: '/v1/users/me' });
    await t().call({
      method: 'GET',
      url: `/v1/organizations/${t().org}/users/usr_00000000000000000000000000`,
    });
    await t().call({ method: 'GET', url: '/no/such/route?key=value', key: null });
    expect([await count(me), await count(denied), await count(unmatched)]).toEqual([
      before[0]! + 2,
      before[1]! + 1,
      before[2]! + 1,
    ]);
  });
});
