import { generateApiKey, type KeyPrefix, keyHint, partialKey } from '../../crypto/api-key-format.ts';
import { newId } from '../../crypto/ids.ts';
import { AppError } from '../../errors/app-error.ts';
import type { ApiKeyPatch, ApiKeyRecord, KeyRateLimit } from '../../store/repos/api-keys.ts';
import type { Store } from '../../store/store.ts';
import type { BatchWriter } from '../audit/batch-writer.ts';
import { buildEvent } from '../audit/events.ts';
import type { Principal } from '../auth/principal.ts';
import { ALL_PERMISSIONS, SCOPE_PRESETS, type ScopePreset } from '../permissions/catalogue.ts';
import type { Clock } from '../shared/clock.ts';
import { parseDuration } from '../shared/duration.ts';
import { decodeCursor, encodeCursor, type Page, type RequestContext } from '../shared/types.ts';
import { type CheckCode, type CheckResult, createKeyChecker } from './hot-path.ts';
import { checkAllowlist, checkMetadata, checkRateLimit, refuseEscalation, resolveExpiry } from './input.ts';
import type { KeyInvalidationBus } from './invalidation.ts';
import { type ApiKeyPolicy, DEFAULT_POLICY, enforceLifetime, rotationDueAt, tierOf } from './policy.ts';
import { createMemoryRateLimiter, type RateDecision, type RateLimiter } from './rate-limiter.ts';

export type KeyStatus = 'active' | 'expired' | 'revoked';

export interface ApiKeyView extends Omit<ApiKeyRecord, 'keyHash' | 'status'> {
  status: KeyStatus;
  /** Live, not yet rotated, and past the rotation period of the organization's key policy. */
  rotationDue: boolean;
  /** For either key of a rotation: whether it has been used since the rotation (null otherwise). */
  usedSinceRotation: boolean | null;
}

export interface CreateKeyInput {
  name: string;
  description?: string | undefined;
  type?: 'api' | 'scim' | undefined;
  permissions?: string[] | undefined;
  scope?: ScopePreset | undefined;
  expiresIn?: string | undefined;
  expiresAt?: string | undefined;
  ipAllowlist?: string[] | undefined;
  rateLimit?: KeyRateLimit | undefined;
  metadata?: Record<string, unknown> | undefined;
}

export interface UpdateKeyInput {
  name?: string | undefined;
  description?: string | null | undefined;
  permissions?: string[] | undefined;
  scope?: ScopePreset | undefined;
  ipAllowlist?: string[] | undefined;
  rateLimit?: KeyRateLimit | null | undefined;
  metadata?: Record<string, unknown> | undefined;
}

export interface RotateKeyInput {
  overlap?: string | undefined;
  expiresIn?: string | undefined;
  expiresAt?: string | undefined;
}

export type AuthFailureCode =
  | 'malformed_api_key'
  | 'invalid_api_key'
  | 'api_key_revoked'
  | 'api_key_expired'
  | 'ip_not_allowed'
  | 'rate_limited';

export type KeyCheck =
  | { ok: true; principal: Principal; record: ApiKeyRecord; rate: RateDecision | undefined }
  | { ok: false; code: AuthFailureCode; record?: ApiKeyRecord; rate?: RateDecision | undefined };

export interface VerifyResult {
  valid: boolean;
  code: CheckCode;
  keyId: string | null;
  organizationId: string | null;
  name: string | null;
  permissions: string[];
  metadata: Record<string, unknown> | null;
  expiresAt: string | null;
  rateLimit: { limit: number; remaining: number; reset: string } | null;
}

const DEFAULT_OVERLAP_MS = 24 * 3_600_000;

export function keyStatus(record: Pick<ApiKeyRecord, 'status' | 'expiresAt'>, now: Date): KeyStatus {
  if (record.status === 'revoked') return 'revoked';
  if (record.expiresAt !== null && record.expiresAt <= now.toISOString()) return 'expired';
  return 'active';
}

function authCode(result: CheckResult): AuthFailureCode {
  switch (result.code) {
    case 'REVOKED':
      return 'api_key_revoked';
    case 'EXPIRED':
      return 'api_key_expired';
    case 'IP_NOT_ALLOWED':
      return 'ip_not_allowed';
    case 'RATE_LIMITED':
      return 'rate_limited';
    default:
      return result.malformed ? 'malformed_api_key' : 'invalid_api_key';
  }
}

export function createApiKeyService(deps: {
  store: Store;
  clock: Clock;
  hashKey: (key: string) => string;
  batch: BatchWriter;
  limiter?: RateLimiter;
  /** Other nodes' caches (Redis pub/sub); absent with a single node. */
  bus?: KeyInvalidationBus;
}) {
  const { store, clock, hashKey, batch, bus } = deps;
  const limiter = deps.limiter ?? createMemoryRateLimiter(() => clock.now().getTime());
  const local = createKeyChecker({ store, clock, hashKey, batch, limiter });
  // Evict here at once (before the change answers), then tell the other nodes.
  const checker = {
    ...local,
    invalidate(hash: string) {
      local.invalidate(hash);
      bus?.publish(hash);
    },
  };
  void bus?.subscribe((hash) => local.invalidate(hash));

  async function policyOf(tx: Store, organizationId: string): Promise<ApiKeyPolicy> {
    return (await tx.apiKeyPolicies.get(organizationId)) ?? DEFAULT_POLICY;
  }

  function view(record: ApiKeyRecord): ApiKeyView {
    const { keyHash: _omit, ...rest } = record;
    const now = clock.now();
    const status = keyStatus(record, now);
    const pending = batch.pendingUse(record.id);
    const lastUsedAt = pending?.lastUsedAt ?? record.lastUsedAt;
    const rotatedAt = record.rotatedAt;
    return {
      ...rest,
      status,
      lastUsedAt,
      lastIp: pending ? pending.lastIp : record.lastIp,
      requestCount: record.requestCount + (pending?.count ?? 0),
      rotationDue:
        status === 'active' &&
        record.rotatedToId === null &&
        record.rotationDueAt !== null &&
        record.rotationDueAt <= now.toISOString(),
      usedSinceRotation:
        rotatedAt !== null
          ? lastUsedAt !== null && lastUsedAt > rotatedAt
          : record.rotatedFromId !== null
            ? lastUsedAt !== null
            : null,
    };
  }

  /** Inserts a key and its `api_key.created` event through `tx`; returns the one-time secret. */
  async function insertKey(
    tx: Store,
    ctx: RequestContext,
    fields: {
      organizationId: string;
      prefix: KeyPrefix;
      name: string;
      description: string | null;
      permissions: string[];
      scope: string | null;
      expiresAt: string | null;
      isOwner: boolean;
      ipAllowlist?: string[] | undefined;
      rateLimit?: KeyRateLimit | null | undefined;
      metadata?: Record<string, unknown> | undefined;
      rotatedFromId?: string | undefined;
    },
  ): Promise<{ record: ApiKeyRecord; key: string }> {
    const now = clock.now();
    const key = generateApiKey(fields.prefix);
    const tier = tierOf(fields.permissions, fields.scope);
    const createdAt = now.toISOString();
    const record: ApiKeyRecord = {
      id: newId('key', now.getTime()),
      organizationId: fields.organizationId,
      name: fields.name,
      description: fields.description,
      prefix: fields.prefix,
      keyHash: hashKey(key),
      hint: keyHint(key),
      permissions: fields.permissions,
      scope: fields.scope,
      isOwner: fields.isOwner,
      status: 'active',
      createdBy: { type: ctx.actor.type, id: ctx.actor.id },
      createdAt,
      updatedAt: createdAt,
      expiresAt: fields.expiresAt,
      revokedAt: null,
      revokedBy: null,
      revokedReason: null,
      lastUsedAt: null,
      lastIp: null,
      requestCount: 0,
      ipAllowlist: fields.ipAllowlist ?? [],
      rateLimit: fields.rateLimit ?? null,
      metadata: fields.metadata ?? {},
      tier,
      rotatedFromId: fields.rotatedFromId ?? null,
      rotatedToId: null,
      rotatedAt: null,
      rotationDueAt: rotationDueAt(createdAt, tier, await policyOf(tx, fields.organizationId)),
      leakUrl: null,
      leakSource: null,
    };
    await tx.apiKeys.insert(record);
    await tx.events.append([
      buildEvent(clock, ctx, {
        organizationId: fields.organizationId,
        type: 'api_key.created',
        target: { type: 'api_key', id: record.id },
        data: {
          keyId: record.id,
          name: record.name,
          hint: record.hint,
          scope: record.scope,
          permissions: record.permissions,
          expiresAt: record.expiresAt,
          ipAllowlist: record.ipAllowlist,
          rateLimit: record.rateLimit,
          createdBy: ctx.actor.id,
          ...(record.rotatedFromId ? { rotatedFrom: record.rotatedFromId } : {}),
        },
      }),
    ]);
    checker.invalidate(record.keyHash);
    return { record, key };
  }

  async function mustGet(organizationId: string, id: string): Promise<ApiKeyRecord> {
    const record = await store.apiKeys.get(organizationId, id);
    if (!record) throw new AppError('not_found', 'No such API key');
    return record;
  }

  function presetOrList(input: { permissions?: string[] | undefined; scope?: ScopePreset | undefined }) {
    if (input.permissions !== undefined && input.scope !== undefined) {
      throw new AppError('validation_failed', 'Give permissions or scope, not both', {
        errors: [{ location: '/body/scope', message: 'must not be combined with permissions' }],
      });
    }
    if (input.scope) return [...SCOPE_PRESETS[input.scope]];
    return input.permissions === undefined ? undefined : [...new Set(input.permissions)];
  }

  /** Revokes inside `tx` and writes `api_key.revoked`; false when the key was not active. */
  async function revokeWithin(
    tx: Store,
    ctx: RequestContext,
    record: ApiKeyRecord,
    reason: string | null,
    leak?: { url: string | null; source: string | null },
  ): Promise<boolean> {
    const now = clock.now().toISOString();
    const changed = await tx.apiKeys.revoke(
      record.organizationId,
      record.id,
      ctx.actor.id,
      reason,
      now,
      leak,
    );
    if (!changed) return false;
    await tx.events.append([
      buildEvent(clock, ctx, {
        organizationId: record.organizationId,
        type: 'api_key.revoked',
        target: { type: 'api_key', id: record.id },
        data: {
          keyId: record.id,
          name: record.name,
          hint: record.hint,
          revokedBy: ctx.actor.display ?? ctx.actor.id,
          revokedById: ctx.actor.id,
          reason,
        },
      }),
    ]);
    return true;
  }

  /**
   * Records a refused credential as `auth.failed`, with only a partial key
   * identifier. It belongs to the key's organization when the key is known,
   * else to the organization in the URL; failures with neither are kept
   * under the pseudo-organization "-" (visible to operators, not tenants).
   */
  function recordFailure(
    candidate: string,
    code: string,
    ctx: Omit<RequestContext, 'actor'>,
    owner: { record?: ApiKeyRecord | undefined; organizationId?: string | undefined } = {},
  ): void {
    const record = owner.record;
    batch.recordEvent(
      buildEvent(
        clock,
        { ...ctx, actor: { type: 'anonymous', id: null, display: null } },
        {
          organizationId: record?.organizationId ?? owner.organizationId ?? '-',
          type: 'auth.failed',
          outcome: 'failure',
          target: record ? { type: 'api_key', id: record.id } : null,
          data: {
            reason: code,
            keyHint: candidate ? partialKey(candidate) : null,
            endpoint: ctx.endpoint ?? null,
            ip: ctx.ip,
          },
        },
      ),
    );
  }

  return {
    view,
    insertKey,
    policyOf: (organizationId: string) => policyOf(store, organizationId),

    async create(principal: Principal, ctx: RequestContext, organizationId: string, input: CreateKeyInput) {
      const org = await store.organizations.get(organizationId);
      if (!org) throw new AppError('not_found');
      const scim = input.type === 'scim';
      if (scim && input.scope !== undefined) {
        throw new AppError('validation_failed', 'scim keys take no scope preset', {
          errors: [{ location: '/body/scope', message: 'must not be given for a scim key' }],
        });
      }
      const permissions = presetOrList(input) ?? (scim ? ['scim:provision'] : []);
      refuseEscalation(principal, permissions);
      const ipAllowlist = checkAllowlist(input.ipAllowlist);
      const rateLimit = checkRateLimit(input.rateLimit);
      const metadata = checkMetadata(input.metadata);
      const now = clock.now();
      const expiresAt = resolveExpiry(input, now);
      enforceLifetime(await policyOf(store, organizationId), expiresAt, now);
      const created = await store.transaction((tx) =>
        insertKey(tx, ctx, {
          organizationId,
          prefix: scim ? 'scim_' : org.mode === 'test' ? 'ak_test_' : 'ak_live_',
          name: input.name,
          description: input.description ?? null,
          permissions,
          scope: input.scope ?? null,
          expiresAt,
          isOwner: false,
          ipAllowlist,
          rateLimit,
          metadata,
        }),
      );
      return { view: view(created.record), key: created.key };
    },

    async get(organizationId: string, id: string): Promise<ApiKeyView> {
      return view(await mustGet(organizationId, id));
    },

    async list(
      organizationId: string,
      query: {
        status?: KeyStatus | undefined;
        unusedForDays?: number | undefined;
        rotationDue?: boolean | undefined;
        cursor?: string | undefined;
        limit: number;
      },
    ): Promise<Page<ApiKeyView>> {
      let afterId: string | undefined;
      if (query.cursor !== undefined) {
        const parts = decodeCursor(query.cursor, 1);
        if (!parts) throw new AppError('invalid_cursor');
        afterId = parts[0];
      }
      const now = clock.now();
      // "Unused" must count the uses still held in memory: write them first.
      if (query.unusedForDays !== undefined) await batch.flush();
      const rows = await store.apiKeys.list(organizationId, {
        status: query.status,
        now: now.toISOString(),
        unusedSince:
          query.unusedForDays === undefined
            ? undefined
            : new Date(now.getTime() - query.unusedForDays * 86_400_000).toISOString(),
        rotationDue: query.rotationDue,
        afterId,
        limit: query.limit + 1,
      });
      const data = rows.slice(0, query.limit).map(view);
      const last = data[data.length - 1];
      return { data, nextCursor: rows.length > query.limit && last ? encodeCursor([last.id]) : null };
    },

    /** Name, description, allowlist, rate limit, metadata; permissions only within the caller's own. */
    async update(
      principal: Principal,
      ctx: RequestContext,
      organizationId: string,
      id: string,
      input: UpdateKeyInput,
    ): Promise<ApiKeyView> {
      const record = await mustGet(organizationId, id);
      if (record.status === 'revoked') throw new AppError('conflict', 'A revoked key cannot be changed');
      const permissions = presetOrList(input);
      const patch: ApiKeyPatch = { updatedAt: clock.now().toISOString() };
      if (permissions !== undefined) {
        if (record.isOwner) {
          throw new AppError('protected_resource', "The owner key's permissions cannot be changed");
        }
        const held = new Set(record.permissions);
        refuseEscalation(
          principal,
          permissions.filter((p) => !held.has(p)),
        );
        patch.permissions = permissions;
        patch.scope = input.scope ?? null;
        patch.tier = tierOf(permissions, patch.scope);
        patch.rotationDueAt = rotationDueAt(
          record.createdAt,
          patch.tier,
          await policyOf(store, organizationId),
        );
      }
      if (input.name !== undefined) patch.name = input.name;
      if (input.description !== undefined) patch.description = input.description;
      const ipAllowlist = checkAllowlist(input.ipAllowlist);
      if (ipAllowlist !== undefined) patch.ipAllowlist = ipAllowlist;
      const rateLimit = checkRateLimit(input.rateLimit);
      if (rateLimit !== undefined) patch.rateLimit = rateLimit;
      const metadata = checkMetadata(input.metadata);
      if (metadata !== undefined) patch.metadata = metadata;
      const { updatedAt: _u, ...changes } = patch;
      await store.transaction(async (tx) => {
        const changed = await tx.apiKeys.update(organizationId, id, patch);
        if (!changed) throw new AppError('conflict', 'A revoked key cannot be changed');
        await tx.events.append([
          buildEvent(clock, ctx, {
            organizationId,
            type: 'api_key.updated',
            target: { type: 'api_key', id },
            data: {
              keyId: id,
              name: patch.name ?? record.name,
              changed: Object.keys(changes).filter((k) => k !== 'tier' && k !== 'rotationDueAt'),
              ...(patch.permissions ? { permissions: patch.permissions, before: record.permissions } : {}),
            },
          }),
        ]);
      });
      checker.invalidate(record.keyHash);
      return view(await mustGet(organizationId, id));
    },

    /**
     * A new key with the same name, permissions, allowlist, rate limit and
     * metadata; the old one expires when the overlap ends (default 24h, `0` at once).
     */
    async rotate(
      principal: Principal,
      ctx: RequestContext,
      organizationId: string,
      id: string,
      input: RotateKeyInput,
    ) {
      const old = await mustGet(organizationId, id);
      const now = clock.now();
      if (keyStatus(old, now) !== 'active') {
        throw new AppError(
          'conflict',
          `Only an active key can be rotated; this one is ${keyStatus(old, now)}`,
        );
      }
      if (old.rotatedToId !== null) {
        throw new AppError('conflict', `This key was already rotated to ${old.rotatedToId}; rotate that one`);
      }
      // Rotating hands out a fresh secret with the old key's permissions: the caller must hold them.
      refuseEscalation(principal, old.permissions);
      const overlapMs =
        input.overlap === undefined ? DEFAULT_OVERLAP_MS : (parseDuration(input.overlap) ?? 0);
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
              oldKeyExpiresAt: oldExpiresAt,
            },
          }),
        ]);
        return made;
      });
      checker.invalidate(old.keyHash);
      return {
        view: view(created.record),
        key: created.key,
        previous: view(await mustGet(organizationId, id)),
      };
    },

    /** Revokes and evicts the key from the verification cache before returning. */
    async revoke(
      ctx: RequestContext,
      organizationId: string,
      id: string,
      reason: string | null,
    ): Promise<void> {
      const record = await mustGet(organizationId, id);
      await store.transaction((tx) => revokeWithin(tx, ctx, record, reason));
      checker.invalidate(record.keyHash);
    },

    revokeWithin,
    invalidate: (hash: string) => checker.invalidate(hash),
    hashKey,

    /** For the HTTP authentication hook: a key's principal, or why it is refused. */
    async authenticate(candidate: string, ctx: Omit<RequestContext, 'actor'>): Promise<KeyCheck> {
      const result = await checker.check(candidate, { ip: ctx.ip, ctx });
      const record = result.snapshot?.record;
      if (result.code !== 'VALID' || !result.snapshot || !record) {
        return { ok: false, code: authCode(result), record, rate: result.rate };
      }
      return {
        ok: true,
        record,
        rate: result.rate,
        principal: {
          type: 'api_key',
          id: record.id,
          organizationId: record.organizationId,
          rootOrganization: result.snapshot.rootOrganization,
          display: record.name,
          permissions: result.snapshot.permissions,
          protected: record.isOwner,
          scimOnly: record.prefix === 'scim_',
        },
      };
    },

    /**
     * `POST /v1/keys/verify`: the same decision as the HTTP hot path, for a
     * key presented to the caller's own API. A key of another organization
     * is NOT_FOUND to the caller, and nothing about it is counted.
     */
    async verify(
      principal: Principal,
      ctx: RequestContext,
      input: { key: string; permissions?: string[] | undefined; ip?: string | undefined },
    ): Promise<VerifyResult> {
      const ip = input.ip ?? null;
      const { actor: _actor, ...requestCtx } = ctx;
      const result = await checker.check(input.key, {
        ip,
        required: input.permissions,
        ctx: { ...requestCtx, ip },
        organizationId: principal.organizationId,
      });
      const record = result.snapshot?.record;
      if (!record) {
        return {
          valid: false,
          code: 'NOT_FOUND',
          keyId: null,
          organizationId: null,
          name: null,
          permissions: [],
          metadata: null,
          expiresAt: null,
          rateLimit: null,
        };
      }
      if (result.code !== 'VALID' && result.code !== 'INSUFFICIENT_PERMISSIONS') {
        recordFailure(input.key, authCode(result), { ...requestCtx, ip }, { record });
      }
      let rate = result.rate;
      if (!rate && record.rateLimit && result.snapshot?.rateWindowMs) {
        rate = await limiter.peek(record.id, record.rateLimit.limit, result.snapshot.rateWindowMs);
      }
      return {
        valid: result.code === 'VALID',
        code: result.code,
        keyId: record.id,
        organizationId: record.organizationId,
        name: record.name,
        permissions: record.permissions,
        metadata: record.metadata,
        expiresAt: record.expiresAt,
        rateLimit: rate
          ? { limit: rate.limit, remaining: rate.remaining, reset: new Date(rate.resetAt).toISOString() }
          : null,
      };
    },

    recordFailure,

    ownerPermissions: (): string[] => [...ALL_PERMISSIONS],
    cacheSize: () => checker.cacheSize(),
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
