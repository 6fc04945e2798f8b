import { describe, expect, it } from 'vitest';
import { generateApiKey, keyHint, parseApiKey, partialKey } from './api-key-format.ts';
import { decodeBase62, encodeBase62 } from './base62.ts';

describe('API key format', () => {
  it('makes keys of each prefix that parse back', () => {
    for (const prefix of ['ak_live_', 'ak_test_', 'scim_'] as const) {
      const key = generateApiKey(prefix);
      expect(key.startsWith(prefix)).toBe(true);
      expect(key.length).toBe(prefix.length + 39);
      expect(parseApiKey(key)).toEqual({ prefix, key });
    }
  });

  it('refuses any single-character change (checksum) and foreign shapes', () => {
    const key = generateApiKey('ak_live_');
    for (let i = 8; i < key.length; i++) {
      const c = key[i] === 'a' ? 'b' : 'a';
      expect(parseApiKey(key.slice(0, i) + c + key.slice(i + 1))).toBeUndefined();
    }
    expect(parseApiKey(key.slice(0, -1))).toBeUndefined();
    expect(parseApiKey(`ak_prod_${key.slice(8)}`)).toBeUndefined();
    expect(parseApiKey(`${key} `)).toBeUndefined();
  });

  it('decodes the checksum digits it encodes', () => {
    for (const value of [0, 1, 61, 62, 3843, 2 ** 31, 2 ** 32 - 1]) {
      expect(decodeBase62(`ak_${encodeBase62(value, 6)}`, 3)).toBe(value);
    }
    expect(decodeBase62('ab-c', 0)).toBe(-1);
  });

  it('has at least 192 bits of randomness and distinct keys', () => {
    expect(33 * Math.log2(62)).toBeGreaterThan(192);
    const keys = new Set(Array.from({ length: 1000 }, () => generateApiKey('ak_test_')));
    expect(keys.size).toBe(1000);
  });

  it('shows hints and partial identifiers that never contain the secret', () => {
    const key = generateApiKey('scim_');
    expect(keyHint(key)).toBe(`scim_${key.slice(5, 9)}…${key.slice(-4)}`);
    expect(partialKey(key)).not.toContain(key.slice(9, -4));
    expect(partialKey('short')).toBe('shor…');
  });
});
