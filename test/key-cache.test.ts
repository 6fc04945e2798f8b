import { describe, expect, it } from 'vitest';
import { generateApiKey, hasKeyShape, hasValidChecksum, parseApiKey } from '../src/crypto/api-key-format.ts';
import { lookupDigest } from '../src/crypto/key-hash.ts';
import { createKeyCache } from '../src/domain/api-keys/key-cache.ts';

function cache(now = { ms: 0 }, maxEntries = 10) {
  return { now, c: createKeyCache<string>({ maxEntries, ttlMs: 1_000, now: () => now.ms }) };
}

describe('verification cache (unit)', () => {
  it('finds entries by lookup digest and evicts them by the stored keyed hash', () => {
    const { c } = cache();
    c.set(c.begin(), 'digest-a', 'hash-a', 'snapshot a');
    c.set(c.begin(), 'digest-b', 'hash-b', null); // a cached miss
    expect(c.get('digest-a')).toBe('snapshot a');
    expect(c.get('digest-b')).toBeNull();
    expect(c.get('hash-a')).toBeUndefined(); // the keyed hash is not a lookup key

    c.invalidate('hash-a');
    expect(c.get('digest-a')).toBeUndefined();
    expect(c.get('digest-b')).toBeNull();
    c.invalidate('hash-b');
    expect(c.get('digest-b')).toBeUndefined();
    expect(c.size()).toBe(0);
  });

  it('drops a lookup that began before an invalidation', () => {
    const { c } = cache();
    const token = c.begin();
    c.invalidate('hash-a');
    c.set(token, 'digest-a', 'hash-a', 'stale');
    expect(c.get('digest-a')).toBeUndefined();
  });

  it('expires entries after their time to live', () => {
    const { c, now } = cache();
    c.set(c.begin(), 'digest-a', 'hash-a', 'a');
    now.ms = 999;
    expect(c.get('digest-a')).toBe('a');
    now.ms = 1_000;
    expect(c.get('digest-a')).toBeUndefined();
    // Expired and gone from both indexes: invalidating it later changes nothing else.
    c.set(c.begin(), 'digest-b', 'hash-b', 'b');
    c.invalidate('hash-a');
    expect(c.get('digest-b')).toBe('b');
  });

  it('evicts the oldest entry when full, from both indexes', () => {
    const { c } = cache({ ms: 0 }, 2);
    c.set(c.begin(), 'd1', 'h1', '1');
    c.set(c.begin(), 'd2', 'h2', '2');
    c.set(c.begin(), 'd3', 'h3', '3');
    expect(c.size()).toBe(2);
    expect(c.get('d1')).toBeUndefined();
    expect([c.get('d2'), c.get('d3')]).toEqual(['2', '3']);
    // Re-setting a present entry does not evict another one.
    c.set(c.begin(), 'd3', 'h3', '3 again');
    expect([c.get('d2'), c.get('d3')]).toEqual(['2', '3 again']);
    c.invalidate('h2');
    expect(c.get('d2')).toBeUndefined();
    expect(c.get('d3')).toBe('3 again');
  });
});

describe('key shape, checksum and lookup digest', () => {
  it('splits parseApiKey into the shape test and the checksum test', () => {
    const key = generateApiKey('ak_live_');
    expect(hasKeyShape(key) && hasValidChecksum(key)).toBe(true);
    expect(parseApiKey(key)?.key).toBe(key);
    const last = key.at(-1) === 'a' ? 'b' : 'a';
    const mistyped = key.slice(0, -1) + last;
    expect(hasKeyShape(mistyped)).toBe(true);
    expect(hasValidChecksum(mistyped)).toBe(false);
    expect(parseApiKey(mistyped)).toBeUndefined();
    expect(hasKeyShape(`${key}x`)).toBe(false);
  });

  it('gives one 32-byte digest per key, different for different keys', () => {
    const a = generateApiKey('ak_live_');
    const b = generateApiKey('ak_live_');
    expect(lookupDigest(a)).toBe(lookupDigest(a));
    expect(lookupDigest(a)).toHaveLength(32);
    expect(lookupDigest(a)).not.toBe(lookupDigest(b));
  });
});
