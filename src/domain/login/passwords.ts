import { hash, verify } from '@node-rs/argon2';
import type { OAuthSettings } from '../oauth/settings.ts';

// OWASP's argon2id baseline (19 MiB, 2 iterations, 1 lane); @node-rs/argon2 defaults to argon2id.
const OPTIONS = { memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;
/**
 * Spends the time of a real verification when the account does not exist or
 * has no password, so response time does not reveal which emails are known.
 */
export async function burnVerification(password: string): Promise<void> {
  dummy ??= hashPassword('latchkey-timing-equaliser');
  await verifyPassword(await dummy, password);
}

/** The first rule of the organization's policy the password breaks, or undefined. */
export function policyViolation(password: string, policy: OAuthSettings): string | undefined {
  if ([...password].length < policy.passwordMinLength) {
    return `The password must be at least ${policy.passwordMinLength} characters long`;
  }
  if ([...password].length > 256) return 'The password must be at most 256 characters long';
  if (
    policy.passwordRequireMixed &&
    !(/[a-z]/.test(password) && /[A-Z]/.test(password) && /\d/.test(password))
  ) {
    return 'The password must contain lower-case and upper-case letters and a digit';
  }
  return undefined;
}
