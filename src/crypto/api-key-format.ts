import { crc32 } from 'node:zlib';
import { BASE62, encodeBase62, randomBase62 } from './base62.ts';

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
const BODY_PATTERN = new RegExp(`^[${BASE62}]{${RANDOM_LENGTH + CHECKSUM_LENGTH}}$`);

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

/** Checks shape and checksum only; `undefined` means malformed. Never touches storage. */
export function parseApiKey(candidate: string): ParsedKey | undefined {
  const prefix = KEY_PREFIXES.find((p) => candidate.startsWith(p));
  if (!prefix) return undefined;
  const body = candidate.slice(prefix.length);
  if (!BODY_PATTERN.test(body)) return undefined;
  const head = candidate.slice(0, candidate.length - CHECKSUM_LENGTH);
  if (checksum(head) !== candidate.slice(-CHECKSUM_LENGTH)) return undefined;
  return { prefix, key: candidate };
}

/** The display hint kept in storage: prefix, first four and last four characters. */
export function keyHint(key: string): string {
  const prefix = KEY_PREFIXES.find((p) => key.startsWith(p)) ?? '';
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
