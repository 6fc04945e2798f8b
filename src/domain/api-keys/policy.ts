import { AppError } from '../../errors/app-error.ts';
import type { ApiKeyPolicyRecord } from '../../store/repos/api-key-policies.ts';
import type { KeyTier } from '../../store/repos/api-keys.ts';
import { isCataloguePermission, SCOPE_PRESETS } from '../permissions/catalogue.ts';
import { parseDuration } from '../shared/duration.ts';

export type ApiKeyPolicy = Omit<ApiKeyPolicyRecord, 'organizationId' | 'updatedAt'> & {
  updatedAt: string | null;
};

/** Seed 004's recommended rotation schedule: admin 30 days, read-write 60, read-only 90. */
export const DEFAULT_POLICY: ApiKeyPolicy = Object.freeze({
  requireExpiry: false,
  maxLifetime: null,
  rotationPeriods: Object.freeze({ admin: '30d', 'read-write': '60d', 'read-only': '90d' }),
  updatedAt: null,
});

const READ_ONLY = new Set<string>(SCOPE_PRESETS['read-only']);
const READ_WRITE = new Set<string>(SCOPE_PRESETS['read-write']);

/**
 * The risk tier of a key picks its rotation period: the preset it was made
 * from, else the narrowest preset that covers its permissions. Custom
 * permissions (for the organization's own APIs) count as read-only when their
 * action is `read`, as read-write otherwise.
 */
export function tierOf(permissions: readonly string[], scope: string | null): KeyTier {
  if (scope === 'read-only' || scope === 'read-write' || scope === 'admin') return scope;
  if (scope === 'owner') return 'admin';
  const custom = (p: string) => !isCataloguePermission(p);
  if (permissions.every((p) => READ_ONLY.has(p) || (custom(p) && p.endsWith(':read')))) return 'read-only';
  if (permissions.every((p) => READ_WRITE.has(p) || custom(p))) return 'read-write';
  return 'admin';
}

export function rotationDueAt(createdAt: string, tier: KeyTier, policy: ApiKeyPolicy): string | null {
  const ms = parseDuration(policy.rotationPeriods[tier]);
  return ms === undefined ? null : new Date(new Date(createdAt).getTime() + ms).toISOString();
}

/** Refuses an expiry the organization's policy does not allow (422 `api_key_policy_violation`). */
export function enforceLifetime(policy: ApiKeyPolicy, expiresAt: string | null, now: Date): void {
  const max = policy.maxLifetime === null ? undefined : parseDuration(policy.maxLifetime);
  if (expiresAt === null && (policy.requireExpiry || max !== undefined)) {
    throw new AppError(
      'api_key_policy_violation',
      `This organization's key policy requires an expiry${policy.maxLifetime ? ` of at most ${policy.maxLifetime}` : ''}: give expiresIn or expiresAt`,
      { errors: [{ location: '/body/expiresIn', message: 'is required by the key policy' }] },
    );
  }
  if (expiresAt !== null && max !== undefined && new Date(expiresAt).getTime() - now.getTime() > max) {
    throw new AppError(
      'api_key_policy_violation',
      `This organization's key policy allows a lifetime of at most ${policy.maxLifetime}`,
      { errors: [{ location: '/body/expiresIn', message: `must be at most ${policy.maxLifetime}` }] },
    );
  }
}
