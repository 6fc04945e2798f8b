import type { KeyPrefix } from '../../crypto/api-key-format.ts';
import { AppError } from '../../errors/app-error.ts';
import type { ApiKeyRecord } from '../../store/repos/api-keys.ts';
import type { Store } from '../../store/store.ts';
import { buildEvent } from '../audit/events.ts';
import type { Principal } from '../auth/principal.ts';
import type { Clock } from '../shared/clock.ts';
import { parseDuration } from '../shared/duration.ts';
import type { RequestContext } from '../shared/types.ts';
import { refuseEscalation, resolveExpiry } from './input.ts';
import { type ApiKeyPolicy, enforceLifetime } from './policy.ts';
import { type ApiKeyView, keyStatus, type NewKeyFields, type RotateKeyInput } from './service.ts';

const DEFAULT_OVERLAP_MS = 24 * 3_600_000;

export interface RotationDeps {
  store: Store;
  clock: Clock;
  insertKey(
    tx: Store,
    ctx: RequestContext,
    fields: NewKeyFields,
  ): Promise<{ record: ApiKeyRecord; key: string }>;
  view(record: ApiKeyRecord): ApiKeyView;
  mustGet(organizationId: string, id: string): Promise<ApiKeyRecord>;
  policyOf(tx: Store, organizationId: string): Promise<ApiKeyPolicy>;
  invalidate(hash: string): void;
}

/**
 * A new key with the same name, permissions, allowlist, rate limit and
 * metadata; the old one expires when the overlap ends (default 24h, `0` at once).
 */
export async function rotateKey(
  deps: RotationDeps,
  principal: Principal,
  ctx: RequestContext,
  organizationId: string,
  id: string,
  input: RotateKeyInput,
) {
  const { store, clock, insertKey, view, mustGet, policyOf } = deps;
  const old = await mustGet(organizationId, id);
  const now = clock.now();
  if (keyStatus(old, now) !== 'active') {
    throw new AppError('conflict', `Only an active key can be rotated; this one is ${keyStatus(old, now)}`);
  }
  if (old.rotatedToId !== null) {
    throw new AppError('conflict', `This key was already rotated to ${old.rotatedToId}; rotate that one`);
  }
  // Rotating hands out a fresh secret with the old key's permissions: the caller must hold them.
  refuseEscalation(principal, old.permissions);
  const overlapMs = input.overlap === undefined ? DEFAULT_OVERLAP_MS : (parseDuration(input.overlap) ?? 0);
  let expiresAt = resolveExpiry(input, now);
  if (expiresAt === null && input.expiresIn === undefined && old.expiresAt !== null) {
    const lifetime = new Date(old.expiresAt).getTime() - new Date(old.createdAt).getTime();
    expiresAt = new Date(now.getTime() + lifetime).toISOString();
  }
  enforceLifetime(await policyOf(store, organizationId), expiresAt, now);
  const overlapEnd = new Date(now.getTime() + overlapMs).toISOString();
  const oldExpiresAt = old.expiresAt !== null && old.expiresAt < overlapEnd ? old.expiresAt : overlapEnd;
  const created = await store.transaction(async (tx) => {
    const made = await insertKey(tx, ctx, {
      organizationId,
      prefix: old.prefix as KeyPrefix,
      name: old.name,
      description: old.description,
      permissions: old.permissions,
      scope: old.scope === 'owner' ? null : old.scope,
      expiresAt,
      isOwner: old.isOwner,
      ipAllowlist: old.ipAllowlist,
      rateLimit: old.rateLimit,
      metadata: old.metadata,
      rotatedFromId: old.id,
    });
    const marked = await tx.apiKeys.markRotated(organizationId, id, {
      rotatedToId: made.record.id,
      rotatedAt: now.toISOString(),
      expiresAt: oldExpiresAt,
    });
    if (!marked) throw new AppError('conflict', 'This key was rotated or revoked concurrently');
    await tx.events.append([
      buildEvent(clock, ctx, {
        organizationId,
        type: 'api_key.rotated',
        target: { type: 'api_key', id },
        data: {
          keyId: id,
          name: old.name,
          newKeyId: made.record.id,
          overlapSeconds: overlapMs / 1000,
          graceUntil: oldExpiresAt,
        },
      }),
    ]);
    return made;
  });
  deps.invalidate(old.keyHash);
  return {
    view: view(created.record),
    key: created.key,
    previous: view(await mustGet(organizationId, id)),
  };
}
