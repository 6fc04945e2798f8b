import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { MasterKey } from './master-key.ts';

/**
 * AES-256-GCM for secrets at rest (webhook secrets, channel credentials, TOTP
 * seeds, signing keys). Stored as `v1.<masterKeyId>.<iv>.<ciphertext>.<tag>`
 * (base64url) so values under an older master key can be found and re-encrypted.
 */
export interface SecretBox {
  seal(plaintext: string, context: string): string;
  open(sealed: string, context: string): string;
}

export function createSecretBox(master: MasterKey): SecretBox {
  const key = master.derive('secret-box');
  return {
    seal(plaintext, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(context));
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [
        'v1',
        master.id,
        iv.toString('base64url'),
        ct.toString('base64url'),
        cipher.getAuthTag().toString('base64url'),
      ].join('.');
    },
    open(sealed, context) {
      const [version, keyId, iv, ct, tag] = sealed.split('.');
      if (version !== 'v1' || !iv || !ct || !tag) throw new Error('unrecognised sealed secret');
      if (keyId !== master.id)
        throw new Error(`secret sealed under master key ${keyId}, current is ${master.id}`);
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    },
  };
}
