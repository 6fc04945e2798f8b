import {
  generateApiKey,
  type KeyPrefix,
  keyHint,
  parseApiKey,
  partialKey,
} from '../../crypto/api-key-format.ts';
import { newId } from '../../crypto/ids.ts';
import { AppError } from '../../errors/app-error.ts';
import type { ApiKeyRecord } from '../../store/repos/api-keys.ts';
import type { Store } from '../../store/store.ts';
import type { BatchWriter } from '../audit/batch-writer.ts';
import { buildEvent } from '../audit/events.ts';
import { missingPermissions, type Principal } from '../auth/principal.ts';
import { ALL_PERMISSIONS, SCOPE_PRESETS, type ScopePreset } from '../permissions/catalogue.ts';
import type { Clock } from '../shared/clock.ts';
import { parseDuration } from '../shared/duration.ts';
import { decodeCursor, encodeCursor, type Page, type RequestContext } from '../shared/types.ts';
import { createKeyCache } from './key-cache.ts';

export type KeyStatus = 'active' | 'expired' | 'revoked';

export interface ApiKeyView extends Omit<ApiKeyRecord, 'keyHash' | 'status'> {
  status: KeyStatus;
}

export interface CreateKeyInput {
  name: string;
  description?: string | undefined;
  permissions?: string[] | undefined;
  scope?: ScopePreset | undefined;
  expiresIn?: string | undefined;
  expiresAt?: string | undefined;
}

/** What the hot path keeps per key: enough to decide without the database. */
interface KeySnapshot {
  record: ApiKeyRecord;
  rootOrganization: boolean;
  permissions: ReadonlySet<string>;
}

export type AuthFailureCode = 'malformed_api_key' | 'invalid_api_key' | 'api_key_revoked' | 'api_key_expired';

export type KeyCheck =
  | { ok: true; principal: Principal; record: ApiKeyRecord }
  | { ok: false; code: AuthFailureCode; record?: ApiKeyRecord };

export function keyStatus(record: Pick<ApiKeyRecord, 'status' | 'expiresAt'>, now: Date): KeyStatus {
  if (record.status === 'revoked') return 'revoked';
  if (record.expiresAt !== null && record.expiresAt <= now.toISOString()) return 'expired';
  return 'active';
}

export function createApiKeyService(deps: {
  store: Store;
  clock: Clock;
  hashKey: (key: string) => string;
  batch: BatchWriter;
}) {
  const { store, clock, hashKey, batch } = deps;
  const cache = createKeyCache<KeySnapshot>({
    maxEntries: 50_000,
    ttlMs: 60_000,
    now: () => clock.now().getTime(),
  });

  function view(record: ApiKeyRecord): ApiKeyView {
    const { keyHash: _omit, ...rest } = record;
    return { ...rest, status: keyStatus(record, clock.now()) };
  }

  function resolveExpiry(input: CreateKeyInput, now: Date): string | null {
    if (input.expiresIn !== undefined && input.expiresAt !== undefined) {
      throw new AppError('validation_failed', 'Give expiresIn or expiresAt, not both', {
        errors: [{ location: '/body/expiresAt', message: 'must not be combined with expiresIn' }],
      });
    }
    if (input.expiresIn !== undefined) {
      const ms = parseDuration(input.expiresIn);
      if (ms === undefined || ms <= 0) {
        throw new AppError('validation_failed', 'expiresIn must look like "90d", "12h" or "30m"', {
          errors: [{ location: '/body/expiresIn', message: 'must be a positive duration such as "90d"' }],
        });
      }
      return new Date(now.getTime() + ms).toISOString();
    }
    if (input.expiresAt !== undefined) {
      const at = new Date(input.expiresAt);
      if (Number.isNaN(at.getTime()) || at <= now) {
        throw new AppError('validation_failed', 'expiresAt must be a date-time in the future', {
          errors: [{ location: '/body/expiresAt', message: 'must be a future date-time' }],
        });
      }
      return at.toISOString();
    }
    return null;
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
    },
  ): Promise<{ record: ApiKeyRecord; key: string }> {
    const now = clock.now();
    const key = generateApiKey(fields.prefix);
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
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      expiresAt: fields.expiresAt,
      revokedAt: null,
      revokedBy: null,
      revokedReason: null,
      lastUsedAt: null,
      lastIp: null,
      requestCount: 0,
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
          createdBy: ctx.actor.id,
        },
      }),
    ]);
    cache.invalidate(record.keyHash);
    return { record, key };
  }

  async function lookup(hash: string): Promise<KeySnapshot | null> {
    const cached = cache.get(hash);
    if (cached !== undefined) return cached;
    const token = cache.begin();
    const record = await store.apiKeys.findByHash(hash);
    let snapshot: KeySnapshot | null = null;
    if (record) {
      const org = await store.organizations.get(record.organizationId);
      snapshot = { record, rootOrganization: org?.isRoot ?? false, permissions: new Set(record.permissions) };
    }
    cache.set(token, hash, snapshot);
    return snapshot;
  }

  return {
    view,
    insertKey,

    async create(principal: Principal, ctx: RequestContext, organizationId: string, input: CreateKeyInput) {
      const org = await store.organizations.get(organizationId);
      if (!org) throw new AppError('not_found');
      if (input.permissions !== undefined && input.scope !== undefined) {
        throw new AppError('validation_failed', 'Give permissions or scope, not both', {
          errors: [{ location: '/body/scope', message: 'must not be combined with permissions' }],
        });
      }
      const permissions = [...new Set(input.scope ? SCOPE_PRESETS[input.scope] : (input.permissions ?? []))];
      const missing = missingPermissions(principal, permissions);
      if (missing.length > 0) {
        throw new AppError(
          'permission_escalation',
          `You cannot grant permissions you do not hold: ${missing.join(', ')}`,
        );
      }
      const expiresAt = resolveExpiry(input, clock.now());
      const created = await store.transaction((tx) =>
        insertKey(tx, ctx, {
          organizationId,
          prefix: org.mode === 'test' ? 'ak_test_' : 'ak_live_',
          name: input.name,
          description: input.description ?? null,
          permissions,
          scope: input.scope ?? null,
          expiresAt,
          isOwner: false,
        }),
      );
      return { view: view(created.record), key: created.key };
    },

    async get(organizationId: string, id: string): Promise<ApiKeyView> {
      const record = await store.apiKeys.get(organizationId, id);
      if (!record) throw new AppError('not_found');
      return view(record);
    },

    async list(
      organizationId: string,
      query: { status?: KeyStatus | undefined; cursor?: string | undefined; limit: number },
    ): Promise<Page<ApiKeyView>> {
      let afterId: string | undefined;
      if (query.cursor !== undefined) {
        const parts = decodeCursor(query.cursor, 1);
        if (!parts) throw new AppError('invalid_cursor');
        afterId = parts[0];
      }
      const rows = await store.apiKeys.list(organizationId, {
        status: query.status,
        now: clock.now().toISOString(),
        afterId,
        limit: query.limit + 1,
      });
      const data = rows.slice(0, query.limit).map(view);
      const last = data[data.length - 1];
      return { data, nextCursor: rows.length > query.limit && last ? encodeCursor([last.id]) : null };
    },

    /** Revokes and evicts the key from the verification cache before returning. */
    async revoke(
      ctx: RequestContext,
      organizationId: string,
      id: string,
      reason: string | null,
    ): Promise<void> {
      const record = await store.apiKeys.get(organizationId, id);
      if (!record) throw new AppError('not_found');
      const now = clock.now().toISOString();
      await store.transaction(async (tx) => {
        const changed = await tx.apiKeys.revoke(organizationId, id, ctx.actor.id, reason, now);
        if (!changed) return;
        await tx.events.append([
          buildEvent(clock, ctx, {
            organizationId,
            type: 'api_key.revoked',
            target: { type: 'api_key', id },
            data: { keyId: id, name: record.name, hint: record.hint, revokedBy: ctx.actor.id, reason },
          }),
        ]);
      });
      cache.invalidate(record.keyHash);
    },

    /**
     * The hot path. Shape and checksum first (no storage), then one O(1)
     * lookup by keyed hash through the cache. Usage is counted in memory.
     */
    async authenticate(candidate: string, ctx: Omit<RequestContext, 'actor'>): Promise<KeyCheck> {
      const parsed = parseApiKey(candidate);
      if (!parsed) return { ok: false, code: 'malformed_api_key' };
      const snapshot = await lookup(hashKey(parsed.key));
      if (!snapshot) return { ok: false, code: 'invalid_api_key' };
      const { record } = snapshot;
      const status = keyStatus(record, clock.now());
      if (status === 'revoked') return { ok: false, code: 'api_key_revoked', record };
      if (status === 'expired') return { ok: false, code: 'api_key_expired', record };
      const at = clock.now();
      batch.recordKeyUse(record.id, at.toISOString(), ctx.ip);
      batch.recordEvent(
        buildEvent(
          clock,
          { ...ctx, actor: { type: 'api_key', id: record.id, display: record.name } },
          {
            organizationId: record.organizationId,
            type: 'api_key.used',
            target: { type: 'api_key', id: record.id },
            data: { keyId: record.id, endpoint: ctx.endpoint ?? null, ip: ctx.ip },
          },
        ),
      );
      return {
        ok: true,
        record,
        principal: {
          type: 'api_key',
          id: record.id,
          organizationId: record.organizationId,
          rootOrganization: snapshot.rootOrganization,
          display: record.name,
          permissions: snapshot.permissions,
          protected: record.isOwner,
          scimOnly: record.prefix === 'scim_',
        },
      };
    },

    /**
     * Records a refused credential as `auth.failed`, with only a partial key
     * identifier. It belongs to the key's organization when the key is known,
     * else to the organization in the URL; failures with neither are kept
     * under the pseudo-organization "-" (visible to operators, not tenants).
     */
    recordFailure(
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
    },

    ownerPermissions: (): string[] => [...ALL_PERMISSIONS],
    cacheSize: () => cache.size(),
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
