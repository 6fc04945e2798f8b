import { crc32 } from 'node:zlib';
import { BASE62, decodeBase62, encodeBase62, randomBase62 } from './base62.ts';

/**
 * Key format: `<prefix><random><checksum>`.
 * - prefix: `ak_live_`, `ak_test_` or `scim_`;
 * - random: 33 base62 characters (196 bits);
 * - checksum: CRC32 of prefix + random, 6 base62 characters, so a mistyped or
 *   truncated key is refused without a database lookup and secret scanners can
 *   recognise real keys (the approach GitHub documents for its tokens).
 */
export const KEY_PREFIXES = ['ak_live_', 'ak_test_', 'scim_'] as const;
export type KeyPrefix = (typeof KEY_PREFIXES)[number];

const RANDOM_LENGTH = 33;
const CHECKSUM_LENGTH = 6;

function checksum(prefixAndRandom: string): string {
  return encodeBase62(crc32(prefixAndRandom), CHECKSUM_LENGTH);
}

export function generateApiKey(prefix: KeyPrefix): string {
  const body = prefix + randomBase62(RANDOM_LENGTH);
  return body + checksum(body);
}

export interface ParsedKey {
  prefix: KeyPrefix;
  key: string;
}

/** Prefix, then exactly the random and checksum characters: one regular-expression test, no slicing. */
const KEY_PATTERN = new RegExp(
  `^(?:${KEY_PREFIXES.join('|')})[${BASE62}]{${RANDOM_LENGTH + CHECKSUM_LENGTH}}$`,
);

function prefixOf(candidate: string): KeyPrefix | undefined {
  for (const prefix of KEY_PREFIXES) if (candidate.startsWith(prefix)) return prefix;
  return undefined;
}

/** A known prefix, then exactly the random and checksum characters (one regular-expression test). */
export function hasKeyShape(candidate: string): boolean {
  return KEY_PATTERN.test(candidate);
}

/**
 * The checksum of a key of the right shape: its last characters are decoded
 * and compared as a number rather than re-encoded as a string.
 */
export function hasValidChecksum(key: string): boolean {
  const split = key.length - CHECKSUM_LENGTH;
  return crc32(key.slice(0, split)) === decodeBase62(key, split);
}

/** Checks shape and checksum only; `undefined` means malformed. Never touches storage. */
export function parseApiKey(candidate: string): ParsedKey | undefined {
  if (!hasKeyShape(candidate) || !hasValidChecksum(candidate)) return undefined;
  return { prefix: prefixOf(candidate) as KeyPrefix, key: candidate };
}

/** The display hint kept in storage: prefix, first four and last four characters. */
export function keyHint(key: string): string {
  const prefix = prefixOf(key) ?? '';
  const body = key.slice(prefix.length);
  return `${prefix}${body.slice(0, 4)}…${body.slice(-4)}`;
}

/**
 * A partial identifier for audit records of failed attempts: enough to tell
 * keys apart, never enough to use one.
 */
export function partialKey(candidate: string): string {
  const trimmed = candidate.trim();
  if (trimmed.length <= 12) return `${trimmed.slice(0, 4)}…`;
  return keyHint(trimmed);
}
