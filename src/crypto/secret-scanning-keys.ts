import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * Public keys that sign secret-scanning reports (GitHub's secret scanning
 * partner program): `{ "<key identifier>": "<PEM>" }`, given inline as JSON or
 * as the path of a JSON file. Only ECDSA P-256 keys are accepted.
 */
export function parseSecretScanningKeys(value: string | undefined): {
  keys: ReadonlyMap<string, KeyObject>;
  problems: string[];
} {
  const keys = new Map<string, KeyObject>();
  const problems: string[] = [];
  if (value === undefined || value.trim() === '') return { keys, problems };
  let text = value.trim();
  if (!text.startsWith('{')) {
    try {
      text = readFileSync(text, 'utf8');
    } catch (error) {
      problems.push(`cannot read ${text} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      return { keys, problems };
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    problems.push('is not a JSON object of { keyIdentifier: PEM }');
    return { keys, problems };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push('must be a JSON object of { keyIdentifier: PEM }');
    return { keys, problems };
  }
  for (const [id, pem] of Object.entries(parsed)) {
    try {
      const key = createPublicKey(String(pem));
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        problems.push(`key "${id}" is not an ECDSA P-256 public key`);
        continue;
      }
      keys.set(id, key);
    } catch {
      problems.push(`key "${id}" is not a PEM public key`);
    }
  }
  return { keys, problems };
}

/** ECDSA P-256 / SHA-256 over the raw body; GitHub sends the signature as base64 of its DER encoding. */
export function verifyEcdsaSignature(key: KeyObject, body: Buffer, signatureBase64: string): boolean {
  try {
    const signature = Buffer.from(signatureBase64, 'base64');
    if (signature.length === 0) return false;
    return verify('sha256', body, { key, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}
