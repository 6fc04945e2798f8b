import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createHmacSha256Hex } from './key-hash.ts';

describe('createHmacSha256Hex', () => {
  it('equals node:crypto HMAC-SHA-256 for keys up to and over one block', () => {
    for (const size of [0, 16, 32, 64, 65, 100]) {
      const secret = randomBytes(size);
      const hash = createHmacSha256Hex(secret);
      for (const message of ['', 'ak_live_abc', 'x'.repeat(500), 'y'.repeat(513), 'ü€'.repeat(200)]) {
        expect(hash(message)).toBe(createHmac('sha256', secret).update(message).digest('hex'));
      }
    }
  });
});
