import { createServer, type Server } from 'node:http';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createBrowser } from './helpers/browser.ts';
import { describeOAuth, type OAuthTestApp, startSignIn } from './helpers/oauth.ts';

const REDIRECT = 'https://app.example.com/callback';
const AFTER_LOGOUT = 'https://app.example.com/signed-out';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** Receives back-channel logout tokens (the engine posts them from the server). */
let receiver: Server;
let receiverUrl = '';
const logoutTokens: string[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const token = new URLSearchParams(body).get('logout_token');
      if (token) logoutTokens.push(token);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const address = receiver.address();
  receiverUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/backchannel`;
});
afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

function signIn(t: OAuthTestApp, config: oidc.Configuration, email: string, password: string) {
  return startSignIn(t, config, { email, password, redirectUri: REDIRECT, scope: 'openid email' });
}

describeOAuth('introspection, revocation, userinfo, logout, sessions, consent, device flow', (t) => {
  let config: oidc.Configuration;
  let clientId: string;
  let user: { id: string };
  /** Erin signs in to the web app (hosted login) and the code is exchanged for tokens. */
  const erinSignsIn = async () => {
    const { after, verifier } = await signIn(t(), config, 'erin@example.com', 'erin uses a passphrase');
    return oidc.authorizationCodeGrant(config, new URL(after.url), { pkceCodeVerifier: verifier });
  };

  it('sets up a client without API resources (opaque, userinfo-only access tokens) and a user', async () => {
    const client = await t().createClient({
      name: 'Web app',
      type: 'confidential',
      firstParty: true,
      redirectUris: [REDIRECT],
      postLogoutRedirectUris: [AFTER_LOGOUT],
      grantTypes: ['authorization_code', 'refresh_token', DEVICE_GRANT],
      scopes: ['openid', 'email', 'profile'],
      resources: [],
      backchannelLogoutUri: receiverUrl,
    });
    clientId = client.id;
    config = await t().discover(client.id, client.secret);
    user = await t().createUser('erin@example.com', 'erin uses a passphrase');
  });

  it('answers userinfo, introspects and revokes tokens', async () => {
    const tokens = await erinSignsIn();
    const info = await oidc.fetchUserInfo(config, tokens.access_token, user.id);
    expect(info).toMatchObject({ sub: user.id, email: 'erin@example.com' });

    const active = await oidc.tokenIntrospection(config, tokens.refresh_token!);
    expect(active).toMatchObject({ active: true, sub: user.id, client_id: clientId });

    await oidc.tokenRevocation(config, tokens.refresh_token!);
    expect(await oidc.tokenIntrospection(config, tokens.refresh_token!)).toMatchObject({ active: false });
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('lets another confidential client introspect a token but not revoke it (RFC 7009: own tokens only)', async () => {
    const tokens = await erinSignsIn();
    const other = await t().createClient({
      name: 'Resource server',
      type: 'confidential',
      grantTypes: ['client_credentials'],
      scopes: [],
      resources: [],
    });
    const otherConfig = await t().discover(other.id, other.secret);
    expect(await oidc.tokenIntrospection(otherConfig, tokens.refresh_token!)).toMatchObject({
      active: true,
      client_id: clientId,
    });
    await expect(oidc.tokenRevocation(otherConfig, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_request',
    });
    expect(await oidc.tokenIntrospection(config, tokens.refresh_token!)).toMatchObject({ active: true });
  });

  it('lists sessions and terminating one revokes its refresh tokens (session.revoked)', async () => {
    const tokens = await erinSignsIn();
    const list = await t().call({
      method: 'GET',
      url: `/v1/organizations/${t().org}/users/${user.id}/sessions`,
    });
    expect(list.statusCode).toBe(200);
    const sessions = list.json().data as { id: string; clients: string[]; amr: string[] }[];
    expect(sessions.length).toBeGreaterThanOrEqual(1);
    expect(sessions.every((s) => s.clients.includes(clientId) && s.amr.includes('pwd'))).toBe(true);
    const notified = logoutTokens.length;
    for (const session of sessions) {
      const del = await t().call({
        method: 'DELETE',
        url: `/v1/organizations/${t().org}/users/${user.id}/sessions/${session.id}`,
      });
      expect(del.statusCode).toBe(204);
    }
    const mine = sessions[0];
    // Each ended session sent the client a back-channel logout token.
    expect(logoutTokens.length).toBe(notified + sessions.length);
    expect(decodeJwt(logoutTokens.at(-1)!)).toMatchObject({ sub: user.id, aud: clientId });
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    const events = await t().call({
      method: 'GET',
      url: `/v1/organizations/${t().org}/audit-logs?type=session.revoked`,
    });
    const revoked = events.json().data as { target: { id: string } }[];
    expect(revoked.map((e) => e.target.id)).toContain(mine!.id);

    const more = await erinSignsIn();
    const all = await t().call({
      method: 'DELETE',
      url: `/v1/organizations/${t().org}/users/${user.id}/sessions`,
    });
    expect(all.json()).toEqual({ terminated: 1 });
    await expect(oidc.refreshTokenGrant(config, more.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    const empty = await t().call({
      method: 'GET',
      url: `/v1/organizations/${t().org}/users/${user.id}/sessions`,
    });
    expect(empty.json().data).toEqual([]);
  });

  it('signs out through RP-initiated logout and notifies the client over the back channel', async () => {
    const { browser, after, verifier } = await signIn(
      t(),
      config,
      'erin@example.com',
      'erin uses a passphrase',
    );
    const tokens = await oidc.authorizationCodeGrant(config, new URL(after.url), {
      pkceCodeVerifier: verifier,
    });
    const endUrl = oidc.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: AFTER_LOGOUT,
      state: 'bye',
    });
    const confirm = await browser.get(endUrl.href);
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain('Sign out');
    const before = logoutTokens.length;
    const done = await browser.post(browser.action(confirm, '/session/end/confirm'), {
      ...confirm.inputs('op.logoutForm'),
      logout: 'yes',
    });
    expect(done.url).toBe(`${AFTER_LOGOUT}?state=bye`);
    expect(logoutTokens.length).toBe(before + 1);
    const logoutToken = decodeJwt(logoutTokens.at(-1)!);
    expect(logoutToken).toMatchObject({ iss: t().issuer(), aud: clientId, sub: user.id });
    expect(logoutToken.events).toHaveProperty(['http://schemas.openid.net/event/backchannel-logout']);
    // The sign-out is audited (written as the engine finishes the logout).
    const signOut = async () => {
      const audit = await t().call({
        method: 'GET',
        url: `/v1/organizations/${t().org}/audit-logs?type=session.revoked`,
      });
      return (audit.json().data as { actor: { id: string }; data: { reason: string } }[]).find(
        (e) => e.data.reason === 'logout',
      );
    };
    await expect.poll(signOut).toMatchObject({ actor: { id: user.id } });
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('runs the device authorization grant (RFC 8628)', async () => {
    const device = await oidc.initiateDeviceAuthorization(config, { scope: 'openid email' });
    expect(device.user_code).toBeTruthy();
    const pending = await oidc
      .genericGrantRequest(config, DEVICE_GRANT, { device_code: device.device_code })
      .catch((e: { error: string }) => e);
    expect(pending).toMatchObject({ error: 'authorization_pending' });

    const browser = createBrowser(t().baseUrl);
    const entry = await browser.get(device.verification_uri_complete!);
    // The engine answers the complete URI with a self-submitting form (a button without JavaScript).
    const confirmation = await browser.post(browser.action(entry, '/device'), entry.inputs());
    expect(confirmation.html).toContain('Confirm the device');
    const login = await browser.post(
      browser.action(confirmation, '/device'),
      confirmation.inputs('op.deviceConfirmForm'),
    );
    const done = await browser.post(browser.action(login, '/login'), {
      csrf: login.field('csrf') ?? '',
      email: 'erin@example.com',
      password: 'erin uses a passphrase',
    });
    expect(done.html).toContain('Device connected');
    const tokens = await oidc.genericGrantRequest(config, DEVICE_GRANT, { device_code: device.device_code });
    expect(tokens.claims()?.sub).toBe(user.id);
  });

  it('shows a consent page for third-party clients and honours a denial', async () => {
    const third = await t().createClient({
      name: 'Third-party reporting',
      type: 'public',
      redirectUris: [REDIRECT],
      grantTypes: ['authorization_code'],
      scopes: ['openid', 'email', 'users:read'],
      resources: [`${t().baseUrl}/v1`],
    });
    const cfg = await t().discover(third.id, null);
    const run = async (decision: 'allow' | 'deny') => {
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(cfg, {
        redirect_uri: REDIRECT,
        scope: 'openid email users:read',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      const browser = createBrowser(t().baseUrl);
      const login = await browser.get(url.href);
      const consent = await browser.post(browser.action(login, '/login'), {
        csrf: login.field('csrf') ?? '',
        email: 'erin@example.com',
        password: 'erin uses a passphrase',
      });
      expect(consent.html).toContain('Allow access?');
      expect(consent.html).toContain('Third-party reporting');
      // erin holds no role, so users:read cannot be granted and the page says so.
      expect(consent.html).toContain('Not granted');
      const done = await browser.post(browser.action(consent, '/consent'), {
        csrf: consent.field('csrf') ?? '',
        decision,
      });
      return { done, verifier };
    };
    const denied = await run('deny');
    expect(new URL(denied.done.url).searchParams.get('error')).toBe('access_denied');
    const allowed = await run('allow');
    const tokens = await oidc.authorizationCodeGrant(cfg, new URL(allowed.done.url), {
      pkceCodeVerifier: allowed.verifier,
    });
    expect(decodeJwt(tokens.access_token).scope ?? '').toBe('');
  });

  it('requires PKCE from public clients', async () => {
    const pub = await t().createClient({
      name: 'SPA',
      type: 'public',
      redirectUris: [REDIRECT],
      grantTypes: ['authorization_code'],
      scopes: ['openid'],
    });
    const cfg = await t().discover(pub.id, null);
    const url = oidc.buildAuthorizationUrl(cfg, { redirect_uri: REDIRECT, scope: 'openid' });
    const res = await createBrowser(t().baseUrl).get(url.href);
    expect(res.url.startsWith(REDIRECT)).toBe(true);
    expect(new URL(res.url).searchParams.get('error')).toBe('invalid_request');
    expect(new URL(res.url).searchParams.get('error_description')).toMatch(/PKCE/);
  });
});
