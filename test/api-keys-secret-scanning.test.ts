import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/load.ts';
import { auditEvents, createKeyBody, keysUrl, me } from './helpers/api-keys.ts';
import { describeEachDb } from './helpers/each-db.ts';

const github = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const KEY_ID = 'bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c';
const PEM = github.publicKey.export({ type: 'spki', format: 'pem' }).toString();

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describeEachDb(
  'POST /v1/secret-scanning/reports',
  (t) => {
    const post = (body: string, headers: Record<string, string>) =>
      t().call({
        method: 'POST',
        url: '/v1/secret-scanning/reports',
        key: null,
        payload: body,
        headers: { 'content-type': 'application/json', ...headers },
      });
    const signed = (body: string, privateKey = github.privateKey) => ({
      'github-public-key-identifier': KEY_ID,
      'github-public-key-signature': sign('sha256', Buffer.from(body), privateKey).toString('base64'),
    });

    it('revokes a reported live key (reason leaked, URL kept), writes api_key.leaked and labels tokens by hash', async () => {
      const leaked = await createKeyBody(t(), { name: 'pushed to GitHub', permissions: ['users:read'] });
      const bystander = await createKeyBody(t(), { permissions: ['users:read'] });
      const fake = `ak_live_${'a'.repeat(39)}`;
      const body = JSON.stringify([
        {
          token: leaked.key,
          type: 'latchkey_api_key',
          url: 'https://github.com/o/r/blob/abc/.env',
          source: 'content',
        },
        {
          token: fake,
          type: 'latchkey_api_key',
          url: 'https://github.com/o/r/blob/abc/x',
          source: 'content',
        },
      ]);
      const res = await post(body, signed(body));
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual([
        { token_hash: sha256(leaked.key), token_type: 'latchkey_api_key', label: 'true_positive' },
        { token_hash: sha256(fake), token_type: 'latchkey_api_key', label: 'false_positive' },
      ]);
      const after = await me(t(), leaked.key);
      expect(after.statusCode).toBe(401);
      expect(after.json().code).toBe('api_key_revoked');
      expect((await me(t(), bystander.key)).statusCode).toBe(200);
      const got = (await t().call({ method: 'GET', url: keysUrl(t(), leaked.id) })).json();
      expect(got).toMatchObject({
        status: 'revoked',
        revokedReason: 'leaked',
        leak: { url: 'https://github.com/o/r/blob/abc/.env', source: 'content' },
      });
      const events = await auditEvents(t(), 'api_key.leaked', { targetId: leaked.id });
      expect(events).toHaveLength(1);
      expect(events[0]?.data).toMatchObject({ url: 'https://github.com/o/r/blob/abc/.env', revoked: true });
      expect(JSON.stringify(events)).not.toContain(leaked.key);
    });

    it('an unsigned, unknown-key or badly signed report answers 401 invalid_signature and changes nothing', async () => {
      const k = await createKeyBody(t(), { permissions: ['users:read'] });
      const body = JSON.stringify([
        { token: k.key, type: 'latchkey_api_key', url: 'https://x', source: 'content' },
      ]);
      const other = JSON.stringify([
        { token: k.key, type: 'latchkey_api_key', url: 'https://y', source: 'content' },
      ]);
      const attempts: Record<string, string>[] = [
        {},
        { 'github-public-key-identifier': KEY_ID },
        { ...signed(body), 'github-public-key-identifier': 'unknown' },
        signed(body, stranger.privateKey),
        signed(other),
        { ...signed(body), 'github-public-key-signature': 'not base64 at all!' },
      ];
      for (const headers of attempts) {
        const res = await post(body, headers);
        expect(res.statusCode, JSON.stringify(headers)).toBe(401);
        expect(res.json().code).toBe('invalid_signature');
      }
      const garbage = await post('{not json', {});
      expect(garbage.statusCode).toBe(401);
      expect(garbage.json().code).toBe('invalid_signature');
      expect((await me(t(), k.key)).statusCode).toBe(200);
      expect(await auditEvents(t(), 'api_key.leaked', { targetId: k.id })).toHaveLength(0);
    });

    it('answers 400 malformed_json for a signed body that is not JSON, and 422 for one that is not a list', async () => {
      const notJson = '{not json';
      const res = await post(notJson, signed(notJson));
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('malformed_json');
      const notList = JSON.stringify({ token: 'x' });
      const res2 = await post(notList, signed(notList));
      expect(res2.statusCode).toBe(422);
      expect(res2.json().code).toBe('validation_failed');
    });

    it('does not revoke the protected owner key, but labels it and reports the leak', async () => {
      const body = JSON.stringify([
        { token: t().ownerKey, type: 'latchkey_api_key', url: 'https://z', source: 'content' },
      ]);
      const res = await post(body, signed(body));
      expect(res.json()[0].label).toBe('true_positive');
      expect((await me(t(), t().ownerKey)).statusCode).toBe(200);
      const events = await auditEvents(t(), 'api_key.leaked');
      expect(events.some((e) => e.data.revoked === false && e.data.notRevokedBecause)).toBe(true);
    });
  },
  { env: { LATCHKEY_SECRET_SCANNING_KEYS: JSON.stringify({ [KEY_ID]: PEM }) } },
);

describe('LATCHKEY_SECRET_SCANNING_KEYS', () => {
  it('accepts inline JSON or a file of {keyId: PEM}, and lists every bad key', () => {
    expect(
      loadConfig({ LATCHKEY_SECRET_SCANNING_KEYS: JSON.stringify({ [KEY_ID]: PEM }) }).secretScanningKeys,
    ).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-ssk-'));
    try {
      const file = join(dir, 'keys.json');
      writeFileSync(file, JSON.stringify({ a: PEM }));
      expect(() => loadConfig({ LATCHKEY_SECRET_SCANNING_KEYS: file })).not.toThrow();
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
        type: 'spki',
        format: 'pem',
      });
      let error: unknown;
      try {
        loadConfig({
          LATCHKEY_SECRET_SCANNING_KEYS: JSON.stringify({ bad: 'not a pem', rsa: rsa.toString() }),
        });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([
        'LATCHKEY_SECRET_SCANNING_KEYS (secretScanningKeys): key "bad" is not a PEM public key',
        'LATCHKEY_SECRET_SCANNING_KEYS (secretScanningKeys): key "rsa" is not an ECDSA P-256 public key',
      ]);
      expect(() => loadConfig({ LATCHKEY_SECRET_SCANNING_KEYS: join(dir, 'missing.json') })).toThrow(
        /cannot read/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
