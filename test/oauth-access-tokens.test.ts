import * as oidc from 'openid-client';
import { expect, it } from 'vitest';
import { createBrowser } from './helpers/browser.ts';
import { describeOAuth } from './helpers/oauth.ts';

const REDIRECT = 'https://app.example.com/callback';

describeOAuth("Latchkey's API accepts access tokens like keys, within their organization", (t) => {
  let other: { org: string; ownerKey: string };
  let user: { id: string };
  let token: string;

  it('signs a user of a second organization in at that organization’s issuer', async () => {
    other = await t().createOrganization('Tenant B');
    const client = await t().createClient(
      {
        name: 'B dashboard',
        type: 'confidential',
        firstParty: true,
        redirectUris: [REDIRECT],
        scopes: ['openid', 'users:read', 'roles:read'],
        resources: [`${t().baseUrl}/v1`],
      },
      other,
    );
    user = await t().createUser('bea@example.com', 'bea has a passphrase', ['viewer'], other);
    const config = await t().discover(client.id, client.secret, other.org);
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid users:read roles:read',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const browser = createBrowser(t().baseUrl);
    const login = await browser.get(url.href);
    const done = await browser.post(browser.action(login, '/login'), {
      csrf: login.field('csrf') ?? '',
      email: 'bea@example.com',
      password: 'bea has a passphrase',
    });
    const tokens = await oidc.authorizationCodeGrant(config, new URL(done.url), {
      pkceCodeVerifier: verifier,
    });
    token = tokens.access_token;
    const me = await t().call({ method: 'GET', url: '/v1/users/me', key: token });
    expect(me.json()).toMatchObject({ type: 'user', id: user.id, organization: { id: other.org } });
  });

  it("answers 404 on another organization's objects", async () => {
    const own = await t().call({ method: 'GET', url: `/v1/organizations/${other.org}/users`, key: token });
    expect(own.statusCode).toBe(200);
    const foreign = await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/users`, key: token });
    expect(foreign.statusCode).toBe(404);
  });

  it("narrows the token's scopes to the user's current roles", async () => {
    const roles = await t().call({
      method: 'GET',
      url: `/v1/organizations/${other.org}/roles`,
      key: other.ownerKey,
    });
    const viewer = (roles.json().data as { id: string; key: string }[]).find((r) => r.key === 'viewer')!;
    await t().call({
      method: 'DELETE',
      url: `/v1/organizations/${other.org}/users/${user.id}/roles/${viewer.id}`,
      key: other.ownerKey,
    });
    const res = await t().call({ method: 'GET', url: `/v1/organizations/${other.org}/users`, key: token });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('permission_denied');
  });

  it('refuses the token of a disabled user, a forged token and a token for another resource (401 invalid_token)', async () => {
    const api = await t().createClient({
      name: 'svc',
      type: 'confidential',
      grantTypes: ['client_credentials'],
      resources: ['https://api.example.com'],
    });
    const cc = await oidc.clientCredentialsGrant(await t().discover(api.id, api.secret), {
      resource: 'https://api.example.com',
    });
    const [h, p] = token.split('.');
    const forged = `${h}.${p}.${Buffer.from('not a signature').toString('base64url')}`;
    const refused = async (credential: string) => {
      const res = await t().call({ method: 'GET', url: '/v1/users/me', key: credential });
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('invalid_token');
      expect(res.headers['www-authenticate']).toBeTruthy();
    };
    await refused(forged);
    await refused(cc.access_token);
    expect((await t().call({ method: 'GET', url: '/v1/users/me', key: token })).statusCode).toBe(200);
    const disabled = await t().call({
      method: 'POST',
      url: `/v1/organizations/${other.org}/users/${user.id}/disable`,
      key: other.ownerKey,
    });
    expect(disabled.statusCode).toBe(200);
    await refused(token);
  });
});
