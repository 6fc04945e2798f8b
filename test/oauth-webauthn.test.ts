import * as oidc from 'openid-client';
import { expect, it } from 'vitest';
import { describeOAuth, type OAuthTestApp, startSignIn } from './helpers/oauth.ts';
import { createSoftAuthenticator } from './helpers/soft-authenticator.ts';

const REDIRECT = 'https://app.example.com/callback';

function signIn(t: OAuthTestApp, config: oidc.Configuration) {
  return startSignIn(t, config, {
    email: 'pat@example.com',
    password: 'pat has a passphrase',
    redirectUri: REDIRECT,
  });
}

describeOAuth('WebAuthn passkeys as a second factor', (t) => {
  let config: oidc.Configuration;
  const authenticator = () => createSoftAuthenticator(t().baseUrl, '127.0.0.1');
  let device: ReturnType<typeof createSoftAuthenticator>;

  it('registers a passkey with the user’s own access token', async () => {
    device = authenticator();
    const client = await t().createClient({
      name: 'Portal',
      type: 'confidential',
      firstParty: true,
      redirectUris: [REDIRECT],
      grantTypes: ['authorization_code'],
      scopes: ['openid'],
    });
    config = await t().discover(client.id, client.secret);
    await t().createUser('pat@example.com', 'pat has a passphrase');
    const { after, verifier } = await signIn(t(), config);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(after.url), {
      pkceCodeVerifier: verifier,
    });

    const options = await t().call({
      method: 'POST',
      url: '/v1/users/me/webauthn/registration-options',
      key: tokens.access_token,
    });
    expect(options.statusCode).toBe(200);
    expect(options.json().rp).toMatchObject({ id: '127.0.0.1', name: 'Latchkey' });
    const ok = await t().call({
      method: 'POST',
      url: '/v1/users/me/webauthn/registrations',
      payload: { credential: device.register(options.json().challenge) },
      key: tokens.access_token,
    });
    expect(ok.statusCode, ok.body).toBe(201);
    expect(ok.json().id).toBe(device.id);

    const byKey = await t().call({ method: 'POST', url: '/v1/users/me/webauthn/registration-options' });
    expect(byKey.statusCode).toBe(403);
  });

  it('asks for the passkey after the password and accepts a valid assertion once', async () => {
    const { browser, after, verifier } = await signIn(t(), config);
    expect(after.html).toContain('Use a passkey');
    const base = browser.action(after, '/webauthn');
    const options = await browser.post(`${base}/options`, { csrf: after.field('csrf') ?? '' });
    const { challenge } = JSON.parse(options.html) as { challenge: string };
    const assertion = device.assert(challenge);
    const done = await browser.post(base, {
      csrf: after.field('csrf') ?? '',
      assertion: JSON.stringify(assertion),
    });
    expect(done.url.startsWith(REDIRECT)).toBe(true);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(done.url), {
      pkceCodeVerifier: verifier,
    });
    expect(tokens.claims()?.amr).toEqual(['pwd', 'hwk']);

    // The challenge was single use: replaying the assertion in a new sign-in fails.
    const again = await signIn(t(), config);
    const replay = await again.browser.post(again.browser.action(again.after, '/webauthn'), {
      csrf: again.after.field('csrf') ?? '',
      assertion: JSON.stringify(assertion),
    });
    expect(replay.status).toBe(401);
    expect(replay.html).toContain('The passkey was not accepted');
  });

  it('refuses an assertion from another authenticator', async () => {
    const { browser, after } = await signIn(t(), config);
    const base = browser.action(after, '/webauthn');
    const options = await browser.post(`${base}/options`, { csrf: after.field('csrf') ?? '' });
    const stranger = authenticator().assert(JSON.parse(options.html).challenge);
    const res = await browser.post(base, {
      csrf: after.field('csrf') ?? '',
      assertion: JSON.stringify(stranger),
    });
    expect(res.status).toBe(401);
  });
});
