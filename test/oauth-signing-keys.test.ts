import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { expect, it } from 'vitest';
import { runCli } from './helpers/cli.ts';
import { describeOAuth } from './helpers/oauth.ts';

const API = 'https://api.example.com';

describeOAuth('signing keys: rotation with overlap', (t) => {
  let config: oidc.Configuration;

  const jwks = async () =>
    (await fetch(`${t().issuer()}/jwks`)).json() as Promise<{ keys: { kid: string }[] }>;
  const token = async () => (await oidc.clientCredentialsGrant(config, { resource: API })).access_token;

  it('rotates through the API: new tokens use the new key, the old key stays published', async () => {
    const client = await t().createClient({
      name: 'Svc',
      type: 'confidential',
      grantTypes: ['client_credentials'],
      resources: [API],
    });
    config = await t().discover(client.id, client.secret);
    const before = await token();
    const oldKid = decodeProtectedHeader(before).kid;

    const res = await t().call({
      method: 'POST',
      url: `/v1/organizations/${t().org}/signing-keys/rotate`,
      payload: {},
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ alg: 'ES256', status: 'active' });

    const published = await jwks();
    expect(published.keys.map((k) => k.kid)).toEqual([res.json().id, oldKid]);
    const after = await token();
    expect(decodeProtectedHeader(after).kid).toBe(res.json().id);
    const set = createLocalJWKSet(published as never);
    await expect(jwtVerify(before, set, { audience: API })).resolves.toBeTruthy();
    await expect(jwtVerify(after, set, { audience: API })).resolves.toBeTruthy();

    const list = await t().call({ method: 'GET', url: `/v1/organizations/${t().org}/signing-keys` });
    const keys = list.json().data as {
      id: string;
      status: string;
      retireAt: string | null;
      publicJwk: object;
    }[];
    expect(keys.map((k) => k.status)).toEqual(['active', 'rotated']);
    expect(keys[1]!.retireAt).not.toBeNull();
    expect(JSON.stringify(keys)).not.toContain('"d"');
    const events = await t().call({
      method: 'GET',
      url: `/v1/organizations/${t().org}/audit-logs?type=signing_key.rotated`,
    });
    expect(events.json().data).toHaveLength(1);
  });

  it('signs with RS256 or EdDSA when asked, and drops a rotated key after the overlap', async () => {
    for (const alg of ['RS256', 'EdDSA'] as const) {
      const res = await t().call({
        method: 'POST',
        url: `/v1/organizations/${t().org}/signing-keys/rotate`,
        payload: { alg },
      });
      expect(res.statusCode).toBe(201);
      expect(decodeProtectedHeader(await token()).alg).toBe(alg);
    }
    t().clock.advance(25 * 3600_000);
    // Rebuilt engine: only the active key is left once the overlap has passed.
    expect((await jwks()).keys).toHaveLength(1);
  });
});

it('latchkey signing-keys rotate --org rotates from the command line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-cli-'));
  try {
    const env = { LATCHKEY_DATA_DIR: dir };
    const boot = await runCli(['bootstrap', '--out', join(dir, 'owner.key')], env);
    expect(boot.code).toBe(0);
    const org = /org_[0-9a-z]{26}/.exec(boot.stdout + boot.stderr)?.[0] ?? '';
    const first = await runCli(['signing-keys', 'list', '--org', org], env);
    expect(first.stdout.trim().split('\n')).toHaveLength(1);
    const rotated = await runCli(['signing-keys', 'rotate', '--org', org, '--alg', 'EdDSA'], env);
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/new EdDSA key sk_/);
    const second = await runCli(['signing-keys', 'list', '--org', org], env);
    const lines = second.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/EdDSA\tactive/);
    expect(lines[1]).toMatch(/ES256\trotated/);
    const bad = await runCli(['signing-keys', 'rotate', '--org', org, '--alg', 'HS256'], env);
    expect(bad.code).toBe(2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
