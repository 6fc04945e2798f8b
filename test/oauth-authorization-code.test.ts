import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { expect, it } from 'vitest';
import { createBrowser } from './helpers/browser.ts';
import { describeOAuth, type OAuthTestApp } from './helpers/oauth.ts';

const REDIRECT = 'https://app.example.com/callback';

async function signIn(
  t: OAuthTestApp,
  config: oidc.Configuration,
  email: string,
  password: string,
  extra: Record<string, string> = {},
) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid email offline_access users:read roles:read',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...extra,
  });
  const browser = createBrowser(t.baseUrl);
  const login = await browser.get(url.href);
  expect(login.status).toBe(200);
  expect(login.html).toContain('Sign in');
  const after = await browser.post(browser.action(login, '/login'), {
    csrf: login.field('csrf') ?? '',
    email,
    password,
  });
  return { browser, after, verifier, state };
}

describeOAuth('authorization code + PKCE through the hosted login', (t) => {
  let client: { id: string; secret: string | null };
  let config: oidc.Configuration;

  it('sets up a first-party client and a user with the viewer role', async () => {
    client = await t().createClient({
      name: 'Dashboard',
      type: 'confidential',
      firstParty: true,
      redirectUris: [REDIRECT],
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'email', 'offline_access', 'users:read', 'roles:read', 'users:write'],
      resources: [`${t().baseUrl}/v1`],
    });
    config = await t().discover(client.id, client.secret);
    await t().createUser('alice@example.com', 'correct horse battery', ['viewer']);
  });

  it('signs in, exchanges the code and calls GET /v1/users/me with the access token', async () => {
    const { after, verifier, state } = await signIn(
      t(),
      config,
      'alice@example.com',
      'correct horse battery',
    );
    expect(after.url.startsWith(REDIRECT)).toBe(true);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(after.url), {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.claims()?.email).toBe('alice@example.com');
    const jwks = createRemoteJWKSet(new URL(`${t().issuer()}/jwks`));
    const { payload } = await jwtVerify(tokens.access_token, jwks, {
      issuer: t().issuer(),
      audience: `${t().baseUrl}/v1`,
      typ: 'at+jwt',
    });
    expect(payload.exp! - payload.iat!).toBe(600);
    expect(String(payload.scope).split(' ').sort()).toEqual(['roles:read', 'users:read']);

    const me = await t().call({ method: 'GET', url: '/v1/users/me', key: tokens.access_token });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ type: 'user', user: { email: 'alice@example.com' } });
    expect(me.json().permissions).toEqual(['roles:read', 'users:read']);

    // The token's scopes are checked like a key's permissions.
    const write = await t().call({
      method: 'POST',
      url: `/v1/organizations/${t().org}/users`,
      payload: { email: 'x@example.com' },
      key: tokens.access_token,
    });
    expect(write.statusCode).toBe(403);
    expect(write.json().code).toBe('permission_denied');
  });

  it('rotates refresh tokens and revokes the family when an old one is replayed', async () => {
    const { after, verifier, state } = await signIn(
      t(),
      config,
      'alice@example.com',
      'correct horse battery',
    );
    const first = await oidc.authorizationCodeGrant(config, new URL(after.url), {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    const second = await oidc.refreshTokenGrant(config, first.refresh_token!);
    expect(second.refresh_token).toBeTruthy();
    expect(second.refresh_token).not.toBe(first.refresh_token);
    t().clock.advance(11_000); // past the grace window
    await expect(oidc.refreshTokenGrant(config, first.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    // Reuse detection revoked the whole family, including the newest token.
    await expect(oidc.refreshTokenGrant(config, second.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('accepts two concurrent refreshes with the same token inside the grace window', async () => {
    const { after, verifier, state } = await signIn(
      t(),
      config,
      'alice@example.com',
      'correct horse battery',
    );
    const first = await oidc.authorizationCodeGrant(config, new URL(after.url), {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    const results = await Promise.allSettled([
      oidc.refreshTokenGrant(config, first.refresh_token!),
      oidc.refreshTokenGrant(config, first.refresh_token!),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
  });

  it('refuses a reused authorization code, even under concurrency (exactly one exchange wins)', async () => {
    const { after, verifier, state } = await signIn(
      t(),
      config,
      'alice@example.com',
      'correct horse battery',
    );
    const url = new URL(after.url);
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () =>
        oidc.authorizationCodeGrant(config, url, { pkceCodeVerifier: verifier, expectedState: state }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'rejected')) {
      expect((r as PromiseRejectedResult).reason).toMatchObject({ error: 'invalid_grant' });
    }
    await expect(
      oidc.authorizationCodeGrant(config, url, { pkceCodeVerifier: verifier, expectedState: state }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('refuses a PKCE mismatch (invalid_grant)', async () => {
    const { after, state } = await signIn(t(), config, 'alice@example.com', 'correct horse battery');
    await expect(
      oidc.authorizationCodeGrant(config, new URL(after.url), {
        pkceCodeVerifier: oidc.randomPKCECodeVerifier(),
        expectedState: state,
      }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('refuses a redirect URI that is not registered exactly', async () => {
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: `${REDIRECT}/extra`,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const page = await createBrowser(t().baseUrl).get(url.href);
    expect(page.status).toBe(400);
    expect(page.html).toContain('redirect_uri');
  });

  it('refuses an expired access token at the API (401 invalid_token)', async () => {
    const { after, verifier, state } = await signIn(
      t(),
      config,
      'alice@example.com',
      'correct horse battery',
    );
    const tokens = await oidc.authorizationCodeGrant(config, new URL(after.url), {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    t().clock.advance(11 * 60_000);
    const me = await t().call({ method: 'GET', url: '/v1/users/me', key: tokens.access_token });
    expect(me.statusCode).toBe(401);
    expect(me.json().code).toBe('invalid_token');
  });

  it('shows a clear error for a wrong password', async () => {
    const { after } = await signIn(t(), config, 'alice@example.com', 'wrong password!');
    expect(after.status).toBe(401);
    expect(after.html).toContain('Wrong email or password');
    expect(after.html).toContain('role="alert"');
  });
});
