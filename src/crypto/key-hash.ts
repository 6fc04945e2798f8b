import { createHmac, timingSafeEqual } from 'node:crypto';
import type { MasterKey } from './master-key.ts';

/**
 * Keyed hash of an API key (HMAC-SHA-256 with a server secret derived from the
 * master key): a stolen database alone cannot be used to test guesses offline.
 */
export function createKeyHasher(master: MasterKey): (key: string) => string {
  const secret = master.derive('api-key-hash');
  return (key) => createHmac('sha256', secret).update(key).digest('hex');
}

export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
