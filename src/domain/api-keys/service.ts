import { generateApiKey, type KeyPrefix, keyHint } from '../../crypto/api-key-format.ts';
import { newId } from '../../crypto/ids.ts';
import { AppError } from '../../errors/app-error.ts';
import type { ApiKeyPatch, ApiKeyRecord, KeyRateLimit } from '../../store/repos/api-keys.ts';
import type { Store } from '../../store/store.ts';
import type { BatchWriter } from '../audit/batch-writer.ts';
import { buildEvent } from '../audit/events.ts';
import type { Principal } from '../auth/principal.ts';
import { ALL_PERMISSIONS, SCOPE_PRESETS, type ScopePreset } from '../permissions/catalogue.ts';
import type { Clock } from '../shared/clock.ts';
import { decodeCursor, encodeCursor, type Page, type RequestContext } from '../shared/types.ts';
import { createKeyChecker } from './hot-path.ts';
import { checkAllowlist, checkMetadata, checkRateLimit, refuseEscalation, resolveExpiry } from './input.ts';
import type { KeyInvalidationBus } from './invalidation.ts';
import { type ApiKeyPolicy, DEFAULT_POLICY, enforceLifetime, rotationDueAt, tierOf } from './policy.ts';
import { createMemoryRateLimiter, type RateLimiter } from './rate-limiter.ts';
import { rotateKey } from './rotation.ts';
import { createVerification } from './verification.ts';

export type { AuthFailureCode, KeyCheck, VerifyResult } from './verification.ts';

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

export function keyStatus(record: Pick<ApiKeyRecord, 'status' | 'expiresAt'>, now: Date): KeyStatus {
  if (record.status === 'revoked') return 'revoked';
  if (record.expiresAt !== null && record.expiresAt <= now.toISOString()) return 'expired';
  return 'active';
}

/** What a new key is made of (create, rotate, and the owner key of a new organization). */
export interface NewKeyFields {
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
  const verification = createVerification({ checker: local, limiter, batch, clock });

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
    fields: NewKeyFields,
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
              // The new value of every field the caller changed (derived tier and rotation date left out).
              changes: Object.fromEntries(
                Object.entries(changes).filter(([k]) => k !== 'tier' && k !== 'rotationDueAt'),
              ),
              ...(patch.permissions ? { permissionsBefore: record.permissions } : {}),
            },
          }),
        ]);
      });
      checker.invalidate(record.keyHash);
      return view(await mustGet(organizationId, id));
    },

    rotate: (
      principal: Principal,
      ctx: RequestContext,
      organizationId: string,
      id: string,
      input: RotateKeyInput,
    ) =>
      rotateKey(
        { store, clock, insertKey, view, mustGet, policyOf, invalidate: checker.invalidate },
        principal,
        ctx,
        organizationId,
        id,
        input,
      ),

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

    authenticate: verification.authenticate,
    verify: verification.verify,
    recordFailure: verification.recordFailure,

    ownerPermissions: (): string[] => [...ALL_PERMISSIONS],
    cacheSize: () => checker.cacheSize(),
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
