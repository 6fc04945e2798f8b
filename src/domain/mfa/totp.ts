import { createHash, randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';

/** RFC 6238 with the authenticator-app defaults (SHA-1, 6 digits, 30 s), ±1 step of clock drift. */
export const TOTP_WINDOW = 1;

export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

function totp(secret: string, issuer: string, label: string): TOTP {
  return new TOTP({
    issuer,
    label,
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
    secret: Secret.fromBase32(secret),
  });
}

export function totpUri(secret: string, issuer: string, label: string): string {
  return totp(secret, issuer, label).toString();
}

export function totpQrCode(uri: string): Promise<string> {
  return QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 1 });
}

export function checkTotp(secret: string, code: string, now: Date): boolean {
  return matchTotp(secret, code, now) !== undefined;
}

/** The 30-second time step the code belongs to (for replay protection), or undefined. */
export function matchTotp(secret: string, code: string, now: Date): number | undefined {
  const token = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(token)) return undefined;
  const delta = totp(secret, 'latchkey', 'x').validate({
    token,
    timestamp: now.getTime(),
    window: TOTP_WINDOW,
  });
  return delta === null ? undefined : Math.floor(now.getTime() / 30_000) + delta;
}

/** A code for tests and tools: what an authenticator app would show at `now`. */
export function generateTotp(secret: string, now: Date): string {
  return totp(secret, 'latchkey', 'x').generate({ timestamp: now.getTime() });
}

const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/** Ten single-use recovery codes (`xxxxx-xxxxx`, ~50 bits each); only their hashes are stored. */
export function newRecoveryCodes(count = 10): string[] {
  return Array.from({ length: count }, () => {
    const bytes = randomBytes(10);
    const chars = [...bytes].map((b) => RECOVERY_ALPHABET[b % RECOVERY_ALPHABET.length]).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

export function hashRecoveryCode(code: string): string {
  const normalized = code
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
  return createHash('sha256').update(`latchkey-recovery:${normalized}`).digest('hex');
}
