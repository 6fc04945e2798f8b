import { AppError, type FieldError } from '../../errors/app-error.ts';
import { isValidRange } from '../../net/cidr.ts';
import type { KeyRateLimit } from '../../store/repos/api-keys.ts';
import type { Principal } from '../auth/principal.ts';
import { isCataloguePermission } from '../permissions/catalogue.ts';
import { parseDuration } from '../shared/duration.ts';

export const METADATA_MAX_BYTES = 4096;

function invalid(detail: string, errors: FieldError[]): AppError {
  return new AppError('validation_failed', detail, { errors });
}

/** `expiresIn` (`"90d"`) or `expiresAt` (future date-time), not both; null when neither. */
export function resolveExpiry(
  input: { expiresIn?: string | undefined; expiresAt?: string | undefined },
  now: Date,
): string | null {
  if (input.expiresIn !== undefined && input.expiresAt !== undefined) {
    throw invalid('Give expiresIn or expiresAt, not both', [
      { location: '/body/expiresAt', message: 'must not be combined with expiresIn' },
    ]);
  }
  if (input.expiresIn !== undefined) {
    const ms = parseDuration(input.expiresIn);
    if (ms === undefined || ms <= 0) {
      throw invalid('expiresIn must look like "90d", "12h" or "30m"', [
        { location: '/body/expiresIn', message: 'must be a positive duration such as "90d"' },
      ]);
    }
    return new Date(now.getTime() + ms).toISOString();
  }
  if (input.expiresAt !== undefined) {
    const at = new Date(input.expiresAt);
    if (Number.isNaN(at.getTime()) || at <= now) {
      throw invalid('expiresAt must be a date-time in the future', [
        { location: '/body/expiresAt', message: 'must be a future date-time' },
      ]);
    }
    return at.toISOString();
  }
  return null;
}

/** IPv4/IPv6 addresses and CIDR ranges; every bad entry is named. */
export function checkAllowlist(list: readonly string[] | undefined): string[] | undefined {
  if (list === undefined) return undefined;
  const errors = list
    .map((entry, i) =>
      isValidRange(entry)
        ? undefined
        : { location: `/body/ipAllowlist/${i}`, message: `"${entry}" is not an IP address or CIDR range` },
    )
    .filter((e): e is FieldError => e !== undefined);
  if (errors.length > 0) {
    throw invalid(
      `ipAllowlist has ${errors.length} invalid entr${errors.length === 1 ? 'y' : 'ies'}`,
      errors,
    );
  }
  return [...new Set(list)];
}

export function checkRateLimit(rateLimit: KeyRateLimit | null | undefined): KeyRateLimit | null | undefined {
  if (rateLimit === undefined || rateLimit === null) return rateLimit;
  const ms = parseDuration(rateLimit.window);
  if (ms === undefined || ms < 1000) {
    throw invalid('rateLimit.window must be a duration of at least one second, such as "1s" or "1m"', [
      { location: '/body/rateLimit/window', message: 'must be a duration of at least "1s"' },
    ]);
  }
  return { limit: rateLimit.limit, window: rateLimit.window };
}

export function checkMetadata(
  metadata: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  if (metadata === undefined) return undefined;
  if (Buffer.byteLength(JSON.stringify(metadata)) > METADATA_MAX_BYTES) {
    throw invalid(`metadata must be at most ${METADATA_MAX_BYTES} bytes of JSON`, [
      { location: '/body/metadata', message: `must be at most ${METADATA_MAX_BYTES} bytes when serialized` },
    ]);
  }
  return metadata;
}

/**
 * Which of `requested` the caller may not grant. Catalogue permissions: only
 * those it holds. Custom `resource:action` permissions (for the
 * organization's own APIs, which Latchkey does not know): those it holds, or
 * any when it administers the organization (holds `organizations:write`).
 */
export function ungrantable(principal: Principal, requested: Iterable<string>): string[] {
  const admin = principal.permissions.has('organizations:write');
  const out: string[] = [];
  for (const p of requested) {
    if (principal.permissions.has(p)) continue;
    if (admin && !isCataloguePermission(p)) continue;
    out.push(p);
  }
  return out;
}

export function refuseEscalation(principal: Principal, requested: Iterable<string>): void {
  const missing = ungrantable(principal, requested);
  if (missing.length > 0) {
    throw new AppError(
      'permission_escalation',
      `You cannot grant permissions you do not hold: ${missing.join(', ')}`,
    );
  }
}
