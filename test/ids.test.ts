import { describe, expect, it } from 'vitest';
import { newId } from '../src/crypto/ids.ts';

describe('newId', () => {
  it('is a prefixed ULID: 10 time digits then 16 random digits, Crockford base32', () => {
    const id = newId('usr', Date.parse('2026-11-22T12:00:00.000Z'));
    expect(id).toMatch(/^usr_[0-9a-hjkmnp-tv-z]{26}$/);
    // The time part decodes back to the millisecond it was made at.
    const digits = '0123456789abcdefghjkmnpqrstvwxyz';
    const time = [...id.slice(4, 14)].reduce((t, c) => t * 32 + digits.indexOf(c), 0);
    expect(time).toBe(Date.parse('2026-11-22T12:00:00.000Z'));
  });

  it('sorts in creation order within one millisecond and under a clock that stands still or goes back', () => {
    const at = Date.parse('2030-01-01T00:00:00.000Z');
    const ids = [
      newId('evt', at),
      newId('evt', at),
      newId('evt', at),
      newId('evt', at - 5_000),
      newId('evt', at + 1),
    ];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('carries into the next digit when the last one is at its maximum', () => {
    const at = Date.parse('2031-01-01T00:00:00.000Z');
    const ids = Array.from({ length: 100 }, () => newId('req', at));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(100);
    // Each id's random part is the previous one plus one, carries included.
    const digits = '0123456789abcdefghjkmnpqrstvwxyz';
    const value = (id: string) => [...id.slice(14)].reduce((n, c) => n * 32n + BigInt(digits.indexOf(c)), 0n);
    for (let i = 1; i < ids.length; i++) expect(value(ids[i]!) - value(ids[i - 1]!)).toBe(1n);
  });

  it('draws fresh randomness for each new millisecond', () => {
    const a = newId('key', Date.parse('2032-01-01T00:00:00.000Z'));
    const b = newId('key', Date.parse('2032-01-01T00:00:00.001Z'));
    expect(a.slice(14)).not.toBe(b.slice(14));
    expect(a < b).toBe(true);
  });
});
