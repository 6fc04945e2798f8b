import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import type { MasterKey } from './master-key.ts';

const BLOCK = 64; // SHA-256 block size (RFC 2104)
const MAX_FAST_MESSAGE = 512;

/**
 * Keyed hash of an API key (HMAC-SHA-256 with a server secret derived from the
 * master key): a stolen database alone cannot be used to test guesses offline.
 *
 * This runs on every request, and `createHmac` re-imports the key each call
 * (~30 µs). RFC 2104 HMAC is H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)): the padded key
 * blocks are prepared once and each call is two one-shot SHA-256 (~0.7 µs),
 * giving byte-for-byte the same digest (a test checks it against createHmac).
 * Messages longer than the scratch buffer take the plain createHmac path.
 */
export function createKeyHasher(master: MasterKey): (key: string) => string {
  return createHmacSha256Hex(master.derive('api-key-hash'));
}

export function createHmacSha256Hex(secret: Buffer): (message: string) => string {
  if (secret.length > BLOCK) return (m) => createHmac('sha256', secret).update(m).digest('hex');
  const inner = Buffer.alloc(BLOCK + MAX_FAST_MESSAGE, 0);
  const outer = Buffer.alloc(BLOCK + 32, 0);
  for (let i = 0; i < BLOCK; i++) {
    const k = i < secret.length ? (secret[i] as number) : 0;
    inner[i] = k ^ 0x36;
    outer[i] = k ^ 0x5c;
  }
  return (message) => {
    if (Buffer.byteLength(message) > MAX_FAST_MESSAGE) {
      return createHmac('sha256', secret).update(message).digest('hex');
    }
    const n = inner.write(message, BLOCK, 'utf8');
    // The inner digest travels as a 'binary' (latin1) string, one byte per char, not a Buffer: no allocation outside the JS heap.
    outer.write(hash('sha256', inner.subarray(0, BLOCK + n), 'binary'), BLOCK, 'binary');
    inner.fill(0, BLOCK, BLOCK + n); // the message is a secret key: do not leave it in the scratch buffer
    return hash('sha256', outer, 'hex');
  };
}

/**
 * The verification cache's index for a presented key: its SHA-256, as a
 * 'binary' (latin1) string of the 32 bytes. Kept in memory only, never stored or logged.
 * One one-shot SHA-256 (~0.2 µs) against the keyed hash's two and a buffer
 * copy; an unkeyed digest of a key with 196 random bits reveals nothing a
 * guess could be tested against.
 */
export function lookupDigest(key: string): string {
  return hash('sha256', key, 'binary');
}

export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
