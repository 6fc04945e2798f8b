import { createServer } from 'node:net';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe } from 'vitest';
import { createTestApp, type TestApp } from './app.ts';
import { createBrowser } from './browser.ts';
import { type DbTarget, dbTargets } from './databases.ts';

export interface OAuthTestApp extends TestApp {
  /** http://127.0.0.1:<port>, where the app listens (openid-client needs a real server). */
  baseUrl: string;
  issuer(org?: string): string;
  /** Creates a client through the API and returns its body (with the secret). */
  createClient(body: Record<string, unknown>, as?: { org: string; ownerKey: string }): Promise<ClientBody>;
  /** openid-client configuration for a client of an organization's issuer (plain HTTP allowed: tests only). */
  discover(clientId: string, secret?: string | null, org?: string): Promise<oidc.Configuration>;
  /** A user with a password and roles, in the root organization unless `as` says otherwise. */
  createUser(
    email: string,
    password: string,
    roles?: string[],
    as?: { org: string; ownerKey: string },
  ): Promise<{ id: string }>;
}

export interface ClientBody {
  id: string;
  secret: string | null;
  [k: string]: unknown;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function createOAuthTestApp(target: DbTarget): Promise<OAuthTestApp> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const t = await createTestApp(target, {
    env: { LATCHKEY_PUBLIC_URL: baseUrl, LATCHKEY_OUTBOUND_ALLOWLIST: '127.0.0.1' },
  });
  await t.app.listen({ port, host: '127.0.0.1' });
  const issuer = (org = t.org) => `${baseUrl}/oidc/${org}`;
  return {
    ...t,
    baseUrl,
    issuer,
    async createClient(body, as) {
      const res = await t.call({
        method: 'POST',
        url: `/v1/organizations/${as?.org ?? t.org}/clients`,
        payload: body,
        key: as?.ownerKey ?? t.ownerKey,
      });
      if (res.statusCode !== 201) throw new Error(`createClient failed: ${res.statusCode} ${res.body}`);
      return res.json() as ClientBody;
    },
    async discover(clientId, secret, org) {
      return oidc.discovery(
        new URL(issuer(org)),
        clientId,
        undefined,
        secret ? oidc.ClientSecretPost(secret) : oidc.None(),
        { execute: [oidc.allowInsecureRequests] },
      );
    },
    async createUser(email, password, roles = [], as) {
      const org = as?.org ?? t.org;
      const key = as?.ownerKey ?? t.ownerKey;
      const res = await t.call({
        method: 'POST',
        url: `/v1/organizations/${org}/users`,
        payload: { email },
        key,
      });
      if (res.statusCode !== 201) throw new Error(`createUser failed: ${res.statusCode} ${res.body}`);
      const user = res.json() as { id: string };
      const pw = await t.call({
        method: 'PUT',
        url: `/v1/organizations/${org}/users/${user.id}/password`,
        payload: { password },
        key,
      });
      if (pw.statusCode !== 204) throw new Error(`set password failed: ${pw.statusCode} ${pw.body}`);
      for (const role of roles) {
        const list = await t.call({ method: 'GET', url: `/v1/organizations/${org}/roles`, key });
        const found = (list.json().data as { id: string; key: string }[]).find((r) => r.key === role);
        if (!found) throw new Error(`no role ${role}`);
        const assigned = await t.call({
          method: 'PUT',
          url: `/v1/organizations/${org}/users/${user.id}/roles/${found.id}`,
          key,
        });
        if (assigned.statusCode >= 300)
          throw new Error(`assign failed: ${assigned.statusCode} ${assigned.body}`);
      }
      return user;
    },
  };
}

/** Like describeEachDb, with the app listening on a loopback port. */
export function describeOAuth(name: string, body: (t: () => OAuthTestApp, target: DbTarget) => void): void {
  for (const target of dbTargets) {
    describe(`${name} [${target}]`, () => {
      let app: OAuthTestApp | undefined;
      beforeAll(async () => {
        app = await createOAuthTestApp(target);
      });
      afterAll(async () => {
        await app?.close();
      });
      body(() => {
        if (!app) throw new Error('test app not ready');
        return app;
      }, target);
    });
  }
}

/**
 * Starts an authorization-code + PKCE sign-in through the hosted login pages:
 * opens the authorization URL in a cookie-keeping browser and posts the
 * email and password form. Returns the browser, the page after the password
 * step and the PKCE verifier for the token exchange.
 */
export async function startSignIn(
  t: OAuthTestApp,
  config: oidc.Configuration,
  options: { email: string; password: string; redirectUri: string; scope?: string },
) {
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: options.redirectUri,
    scope: options.scope ?? 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const browser = createBrowser(t.baseUrl);
  const login = await browser.get(url.href);
  const after = await browser.post(browser.action(login, '/login'), {
    csrf: login.field('csrf') ?? '',
    email: options.email,
    password: options.password,
  });
  return { browser, after, verifier };
}
