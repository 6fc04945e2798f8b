import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MasterKey {
  /** Short identifier stored beside each encrypted value so the master key can be rotated. */
  id: string;
  /** Derives a purpose-bound 32-byte subkey (HKDF-SHA-256). */
  derive(purpose: string): Buffer;
}

export function masterKeyFromBytes(bytes: Buffer): MasterKey {
  if (bytes.length !== 32) throw new Error('master key must be 32 bytes');
  const id = createHash('sha256').update(bytes).digest('hex').slice(0, 8);
  return {
    id,
    derive: (purpose) => Buffer.from(hkdfSync('sha256', bytes, Buffer.alloc(0), `latchkey:${purpose}`, 32)),
  };
}

/** From `LATCHKEY_MASTER_KEY`, else `<dataDir>/master.key`, created (mode 0600) on first use. */
export function loadMasterKey(configured: string | undefined, dataDir: string): MasterKey {
  if (configured) return masterKeyFromBytes(Buffer.from(configured, 'base64'));
  const path = join(dataDir, 'master.key');
  if (!existsSync(path)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(path, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
  }
  return masterKeyFromBytes(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64'));
}
