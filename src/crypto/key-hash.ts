import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { MasterKey } from './master-key.ts';

const BLOCK = 64; // SHA-256 block size (RFC 2104)

/**
 * Keyed hash of an API key (HMAC-SHA-256 with a server secret derived from the
 * master key): a stolen database alone cannot be used to test guesses offline.
 *
 * This runs on every request, and `createHmac` re-imports the key each call
 * (~30 µs). RFC 2104 HMAC is H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)): the two padded
 * key blocks are hashed once here and the states copied per call (~5 µs),
 * giving byte-for-byte the same digest (a test checks it against createHmac).
 */
export function createKeyHasher(master: MasterKey): (key: string) => string {
  return createHmacSha256Hex(master.derive('api-key-hash'));
}

export function createHmacSha256Hex(secret: Buffer): (message: string) => string {
  if (secret.length > BLOCK) return (m) => createHmac('sha256', secret).update(m).digest('hex');
  const ipad = Buffer.alloc(BLOCK, 0x36);
  const opad = Buffer.alloc(BLOCK, 0x5c);
  for (let i = 0; i < secret.length; i++) {
    ipad[i] = (ipad[i] as number) ^ (secret[i] as number);
    opad[i] = (opad[i] as number) ^ (secret[i] as number);
  }
  const inner = createHash('sha256').update(ipad);
  const outer = createHash('sha256').update(opad);
  ipad.fill(0);
  opad.fill(0);
  return (message) => outer.copy().update(inner.copy().update(message).digest()).digest('hex');
}

export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
