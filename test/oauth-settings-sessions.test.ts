import * as oidc from 'openid-client';
import { expect, it } from 'vitest';
import { describeOAuth, type OAuthTestApp, startSignIn } from './helpers/oauth.ts';

const REDIRECT = 'https://app.example.com/callback';

async function signIn(t: OAuthTestApp, config: oidc.Configuration) {
  const { after, verifier } = await startSignIn(t, config, {
    email: 'sam@example.com',
    password: 'sam has a passphrase',
    redirectUri: REDIRECT,
    scope: 'openid users:read',
  });
  return oidc.authorizationCodeGrant(config, new URL(after.url), { pkceCodeVerifier: verifier });
}

describeOAuth('organization OAuth settings: token lifetime and session timeouts', (t) => {
  let config: oidc.Configuration;
  let user: { id: string };
  const settingsUrl = () => `/v1/organizations/${t().org}/oauth-settings`;

  it('serves the defaults (10-minute access tokens, Auth0-like lockout)', async () => {
    const res = await t().call({ method: 'GET', url: settingsUrl() });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ accessTokenTtl: 600, lockoutThreshold: 10, mfaRequired: false });
  });

  it('validates updates and needs organizations:write', async () => {
    const bad = await t().call({ method: 'PATCH', url: settingsUrl(), payload: { accessTokenTtl: 5 } });
    expect(bad.statusCode).toBe(422);
    const unknown = await t().call({ method: 'PATCH', url: settingsUrl(), payload: { nope: 1 } });
    expect(unknown.statusCode).toBe(422);
    const reader = await t().createKey(['organizations:read']);
    const denied = await t().call({
      method: 'PATCH',
      url: settingsUrl(),
      payload: { accessTokenTtl: 300 },
      key: reader.key,
    });
    expect(denied.statusCode).toBe(403);
  });

  it('applies a new access-token lifetime to the next token, without a restart', async () => {
    const client = await t().createClient({
      name: 'App',
      type: 'confidential',
      firstParty: true,
      redirectUris: [REDIRECT],
      scopes: ['openid', 'users:read'],
    });
    config = await t().discover(client.id, client.secret);
    user = await t().createUser('sam@example.com', 'sam has a passphrase', ['viewer']);
    const before = await signIn(t(), config);
    expect(before.expires_in).toBe(600);
    const res = await t().call({
      method: 'PATCH',
      url: settingsUrl(),
      payload: { accessTokenTtl: 300, sessionIdleTimeout: 120, sessionAbsoluteTimeout: 600 },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ accessTokenTtl: 300, sessionIdleTimeout: 120 });
    const after = await signIn(t(), config);
    expect(after.expires_in).toBe(300);
  });

  it('ends an idle session after the idle timeout, and its refresh tokens with it', async () => {
    // Sessions started under the old settings keep the expiry they were given.
    await t().call({ method: 'DELETE', url: `/v1/organizations/${t().org}/users/${user.id}/sessions` });
    const tokens = await signIn(t(), config);
    const list = async () =>
      (
        await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/users/${user.id}/sessions` })
      ).json().data as unknown[];
    expect((await list()).length).toBeGreaterThanOrEqual(1);
    t().clock.advance(121_000);
    expect(await list()).toEqual([]);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });
});
