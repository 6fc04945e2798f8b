import * as oidc from 'openid-client';
import { Secret, TOTP } from 'otpauth';
import { expect, it } from 'vitest';
import { createBrowser } from './helpers/browser.ts';
import { describeOAuth, type OAuthTestApp, startSignIn } from './helpers/oauth.ts';

const REDIRECT = 'https://app.example.com/callback';

function codeFor(secret: string, at: Date): string {
  return new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: at.getTime() });
}

function startLogin(t: OAuthTestApp, config: oidc.Configuration, email: string, password: string) {
  return startSignIn(t, config, { email, password, redirectUri: REDIRECT });
}

describeOAuth('hosted login: second factor, recovery codes, brute-force protection', (t) => {
  let config: oidc.Configuration;
  let user: { id: string };
  let secret: string;
  let recoveryCodes: string[];

  it('enrolls TOTP through the admin API (otpauth URI, QR code, ten recovery codes)', async () => {
    const client = await t().createClient({
      name: 'Portal',
      type: 'public',
      firstParty: true,
      redirectUris: [REDIRECT],
      grantTypes: ['authorization_code'],
      scopes: ['openid'],
    });
    config = await t().discover(client.id, null);
    user = await t().createUser('bob@example.com', 'a long enough passphrase');
    const start = await t().call({
      method: 'POST',
      url: `/v1/organizations/${t().org}/users/${user.id}/mfa/totp`,
    });
    expect(start.statusCode).toBe(201);
    const body = start.json();
    expect(body.otpauthUri).toMatch(/^otpauth:\/\/totp\//);
    expect(body.qrCodeSvg).toContain('<svg');
    secret = body.secret;
    const wrong = await t().call({
      method: 'POST',
      url: `/v1/organizations/${t().org}/users/${user.id}/mfa/totp/verify`,
      payload: { code: '000000' },
    });
    expect(wrong.statusCode).toBe(422);
    const ok = await t().call({
      method: 'POST',
      url: `/v1/organizations/${t().org}/users/${user.id}/mfa/totp/verify`,
      payload: { code: codeFor(secret, t().clock.now()) },
    });
    expect(ok.statusCode).toBe(200);
    recoveryCodes = ok.json().recoveryCodes;
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    const status = await t().call({
      method: 'GET',
      url: `/v1/organizations/${t().org}/users/${user.id}/mfa`,
    });
    expect(status.json()).toMatchObject({ totp: true, recoveryCodesRemaining: 10 });
  });

  it('asks for the TOTP code after the password, then completes the flow', async () => {
    const { browser, after, verifier } = await startLogin(
      t(),
      config,
      'bob@example.com',
      'a long enough passphrase',
    );
    expect(after.html).toContain('Two-step verification');
    const bad = await browser.post(browser.action(after, '/mfa'), {
      csrf: after.field('csrf') ?? '',
      code: '123456',
    });
    expect(bad.status).toBe(401);
    expect(bad.html).toContain('That code is not valid');
    const done = await browser.post(browser.action(bad, '/mfa'), {
      csrf: bad.field('csrf') ?? '',
      code: codeFor(secret, t().clock.now()),
    });
    expect(done.url.startsWith(REDIRECT)).toBe(true);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(done.url), {
      pkceCodeVerifier: verifier,
    });
    expect(tokens.claims()?.amr).toEqual(['pwd', 'otp']);

    // RFC 6238 §5.2: the same code is not accepted twice.
    const again = await startLogin(t(), config, 'bob@example.com', 'a long enough passphrase');
    const replay = await again.browser.post(again.browser.action(again.after, '/mfa'), {
      csrf: again.after.field('csrf') ?? '',
      code: codeFor(secret, t().clock.now()),
    });
    expect(replay.status).toBe(401);
  });

  it('accepts a recovery code once', async () => {
    const code = recoveryCodes[0]!;
    const first = await startLogin(t(), config, 'bob@example.com', 'a long enough passphrase');
    const done = await first.browser.post(first.browser.action(first.after, '/mfa'), {
      csrf: first.after.field('csrf') ?? '',
      code,
    });
    expect(done.url.startsWith(REDIRECT)).toBe(true);
    const again = await startLogin(t(), config, 'bob@example.com', 'a long enough passphrase');
    const refused = await again.browser.post(again.browser.action(again.after, '/mfa'), {
      csrf: again.after.field('csrf') ?? '',
      code,
    });
    expect(refused.status).toBe(401);
  });

  it('refuses a form without the CSRF token', async () => {
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const browser = createBrowser(t().baseUrl);
    const login = await browser.get(url.href);
    const res = await browser.post(browser.action(login, '/login'), {
      csrf: 'forged',
      email: 'bob@example.com',
      password: 'a long enough passphrase',
    });
    expect(res.status).toBe(403);
  });

  it('locks the account for this IP after 10 failures, without checking the password, until an admin unlocks it', async () => {
    const carol = await t().createUser('carol@example.com', 'carol the correct one');
    for (let i = 0; i < 10; i++) {
      const { after } = await startLogin(t(), config, 'carol@example.com', `wrong-${i}-password`);
      expect(after.status).toBe(i < 9 ? 401 : 429);
    }
    const locked = await startLogin(t(), config, 'carol@example.com', 'carol the correct one');
    expect(locked.after.status).toBe(429);
    expect(locked.after.html).toContain('Too many failed attempts');

    const state = await t().call({
      method: 'GET',
      url: `/v1/organizations/${t().org}/users/${carol.id}/lockout`,
    });
    expect(state.json()).toEqual({ locked: true, ips: ['127.0.0.1'] });
    const events = await t().call({
      method: 'GET',
      url: `/v1/organizations/${t().org}/audit-logs?targetId=${carol.id}&limit=50`,
    });
    const types = (events.json().data as { type: string; ip: string; userAgent: string }[]).map(
      (e) => e.type,
    );
    expect(types).toContain('user.locked');
    expect(types.filter((x) => x === 'user.login.failed').length).toBeGreaterThanOrEqual(11);
    const failed = (events.json().data as { type: string; ip: string; userAgent: string }[]).find(
      (e) => e.type === 'user.login.failed',
    );
    expect(failed).toMatchObject({ ip: '127.0.0.1', userAgent: 'latchkey-test-browser' });

    const unlock = await t().call({
      method: 'POST',
      url: `/v1/organizations/${t().org}/users/${carol.id}/unlock`,
    });
    expect(unlock.statusCode).toBe(204);
    const ok = await startLogin(t(), config, 'carol@example.com', 'carol the correct one');
    expect(ok.after.url.startsWith(REDIRECT)).toBe(true);
    const after = await t().call({
      method: 'GET',
      url: `/v1/organizations/${t().org}/audit-logs?targetId=${carol.id}&limit=50`,
    });
    const latest = (after.json().data as { type: string }[]).map((e) => e.type);
    expect(latest).toContain('user.unlocked');
    expect(latest).toContain('user.login.succeeded');
  });

  it('enforces the password policy (422 password_policy)', async () => {
    const res = await t().call({
      method: 'PUT',
      url: `/v1/organizations/${t().org}/users/${user.id}/password`,
      payload: { password: 'short' },
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().code).toBe('password_policy');
  });

  it('makes a user enroll TOTP at sign-in when MFA is required', async () => {
    const dave = await t().createUser('dave@example.com', 'dave has a passphrase');
    const req = await t().call({
      method: 'PUT',
      url: `/v1/organizations/${t().org}/users/${dave.id}/mfa`,
      payload: { required: true },
    });
    expect(req.json()).toMatchObject({ required: true, totp: false });
    const { browser, after, verifier } = await startLogin(
      t(),
      config,
      'dave@example.com',
      'dave has a passphrase',
    );
    expect(after.html).toContain('Set up two-step verification');
    const daveSecret = /id="totp-secret">([A-Z2-7]+)</.exec(after.html)?.[1] ?? '';
    const codes = await browser.post(browser.action(after, '/enroll'), {
      csrf: after.field('csrf') ?? '',
      code: codeFor(daveSecret, t().clock.now()),
    });
    expect(codes.html).toContain('recovery codes');
    expect(codes.html.match(/<li><code>/g)).toHaveLength(10);
    const done = await browser.post(browser.action(codes, '/continue'), { csrf: codes.field('csrf') ?? '' });
    expect(done.url.startsWith(REDIRECT)).toBe(true);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(done.url), {
      pkceCodeVerifier: verifier,
    });
    expect(tokens.claims()?.sub).toBe(dave.id);
  });
});
