import type { Kysely, Selectable } from 'kysely';
import type { ApiKeysTable, Database } from '../schema.ts';

export type KeyTier = 'admin' | 'read-write' | 'read-only';

export interface KeyRateLimit {
  limit: number;
  /** Duration such as `"1s"`, `"1m"`, `"1h"`. */
  window: string;
}

export interface ApiKeyRecord {
  id: string;
  organizationId: string;
  name: string;
  description: string | null;
  prefix: string;
  keyHash: string;
  hint: string;
  permissions: string[];
  scope: string | null;
  isOwner: boolean;
  status: 'active' | 'revoked';
  createdBy: { type: string; id: string | null };
  createdAt: string;
  updatedAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  revokedReason: string | null;
  lastUsedAt: string | null;
  lastIp: string | null;
  requestCount: number;
  ipAllowlist: string[];
  rateLimit: KeyRateLimit | null;
  metadata: Record<string, unknown>;
  /** Risk tier that picks the rotation period: the preset, or the narrowest preset covering the permissions. */
  tier: KeyTier;
  rotatedFromId: string | null;
  rotatedToId: string | null;
  rotatedAt: string | null;
  rotationDueAt: string | null;
  leakUrl: string | null;
  leakSource: string | null;
}

export interface ApiKeyFilter {
  status?: 'active' | 'revoked' | 'expired' | undefined;
  now: string;
  /** Keys not used since this time (never-used keys created before it included). */
  unusedSince?: string | undefined;
  /** true: only keys past their rotation date; false: only keys that are not. */
  rotationDue?: boolean | undefined;
  afterId?: string | undefined;
  limit: number;
}

export interface UsageDelta {
  keyId: string;
  count: number;
  lastUsedAt: string;
  lastIp: string | null;
}

export interface ApiKeyPatch {
  name?: string;
  description?: string | null;
  permissions?: string[];
  scope?: string | null;
  tier?: KeyTier;
  rotationDueAt?: string | null;
  ipAllowlist?: string[];
  rateLimit?: KeyRateLimit | null;
  metadata?: Record<string, unknown>;
  expiresAt?: string | null;
  rotatedToId?: string;
  rotatedAt?: string;
  updatedAt: string;
}

function toRecord(row: Selectable<ApiKeysTable>): ApiKeyRecord {
  return {
    id: row.id,
    organizationId: row.organization_id,
    name: row.name,
    description: row.description,
    prefix: row.prefix,
    keyHash: row.key_hash,
    hint: row.hint,
    permissions: JSON.parse(row.permissions) as string[],
    scope: row.scope,
    isOwner: row.is_owner === 1,
    status: row.status,
    createdBy: { type: row.created_by_type, id: row.created_by_id },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    revokedBy: row.revoked_by,
    revokedReason: row.revoked_reason,
    lastUsedAt: row.last_used_at,
    lastIp: row.last_ip,
    requestCount: Number(row.request_count),
    ipAllowlist: JSON.parse(row.ip_allowlist) as string[],
    rateLimit: row.rate_limit === null ? null : (JSON.parse(row.rate_limit) as KeyRateLimit),
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    tier: row.tier as KeyTier,
    rotatedFromId: row.rotated_from_id,
    rotatedToId: row.rotated_to_id,
    rotatedAt: row.rotated_at,
    rotationDueAt: row.rotation_due_at,
    leakUrl: row.leak_url,
    leakSource: row.leak_source,
  };
}

function patchRow(p: ApiKeyPatch) {
  return {
    ...(p.name !== undefined ? { name: p.name } : {}),
    ...(p.description !== undefined ? { description: p.description } : {}),
    ...(p.permissions !== undefined ? { permissions: JSON.stringify(p.permissions) } : {}),
    ...(p.scope !== undefined ? { scope: p.scope } : {}),
    ...(p.tier !== undefined ? { tier: p.tier } : {}),
    ...(p.rotationDueAt !== undefined ? { rotation_due_at: p.rotationDueAt } : {}),
    ...(p.ipAllowlist !== undefined ? { ip_allowlist: JSON.stringify(p.ipAllowlist) } : {}),
    ...(p.rateLimit !== undefined
      ? { rate_limit: p.rateLimit === null ? null : JSON.stringify(p.rateLimit) }
      : {}),
    ...(p.metadata !== undefined ? { metadata: JSON.stringify(p.metadata) } : {}),
    ...(p.expiresAt !== undefined ? { expires_at: p.expiresAt } : {}),
    ...(p.rotatedToId !== undefined ? { rotated_to_id: p.rotatedToId } : {}),
    ...(p.rotatedAt !== undefined ? { rotated_at: p.rotatedAt } : {}),
    updated_at: p.updatedAt,
  };
}

export function createApiKeysRepo(db: Kysely<Database>) {
  return {
    async insert(key: ApiKeyRecord): Promise<void> {
      await db
        .insertInto('api_keys')
        .values({
          id: key.id,
          organization_id: key.organizationId,
          name: key.name,
          description: key.description,
          prefix: key.prefix,
          key_hash: key.keyHash,
          hint: key.hint,
          permissions: JSON.stringify(key.permissions),
          scope: key.scope,
          is_owner: key.isOwner ? 1 : 0,
          status: key.status,
          created_by_type: key.createdBy.type,
          created_by_id: key.createdBy.id,
          created_at: key.createdAt,
          updated_at: key.updatedAt,
          expires_at: key.expiresAt,
          revoked_at: null,
          revoked_by: null,
          revoked_reason: null,
          last_used_at: null,
          last_ip: null,
          request_count: 0,
          ip_allowlist: JSON.stringify(key.ipAllowlist),
          rate_limit: key.rateLimit === null ? null : JSON.stringify(key.rateLimit),
          metadata: JSON.stringify(key.metadata),
          tier: key.tier,
          rotated_from_id: key.rotatedFromId,
          rotated_to_id: null,
          rotated_at: null,
          rotation_due_at: key.rotationDueAt,
          leak_url: null,
          leak_source: null,
          expired_notified_at: null,
          rotation_due_notified_at: null,
        })
        .execute();
    },
    async findByHash(hash: string): Promise<ApiKeyRecord | undefined> {
      const row = await db.selectFrom('api_keys').selectAll().where('key_hash', '=', hash).executeTakeFirst();
      return row ? toRecord(row) : undefined;
    },
    async get(organizationId: string, id: string): Promise<ApiKeyRecord | undefined> {
      const row = await db
        .selectFrom('api_keys')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .executeTakeFirst();
      return row ? toRecord(row) : undefined;
    },
    async list(organizationId: string, filter: ApiKeyFilter): Promise<ApiKeyRecord[]> {
      let query = db.selectFrom('api_keys').selectAll().where('organization_id', '=', organizationId);
      const live = () =>
        query
          .where('status', '=', 'active')
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', filter.now)]));
      if (filter.status === 'revoked') query = query.where('status', '=', 'revoked');
      if (filter.status === 'active') query = live();
      if (filter.status === 'expired') {
        query = query.where('status', '=', 'active').where('expires_at', '<=', filter.now);
      }
      if (filter.rotationDue === true) {
        query = live().where('rotated_to_id', 'is', null).where('rotation_due_at', '<=', filter.now);
      }
      if (filter.rotationDue === false) {
        query = query.where((eb) =>
          eb.or([
            eb('rotation_due_at', 'is', null),
            eb('rotation_due_at', '>', filter.now),
            eb('rotated_to_id', 'is not', null),
            eb('status', '=', 'revoked'),
            eb('expires_at', '<=', filter.now),
          ]),
        );
      }
      const unusedSince = filter.unusedSince;
      if (unusedSince !== undefined) {
        query = query.where((eb) =>
          eb.or([
            eb.and([eb('last_used_at', 'is', null), eb('created_at', '<=', unusedSince)]),
            eb('last_used_at', '<=', unusedSince),
          ]),
        );
      }
      if (filter.afterId !== undefined) query = query.where('id', '>', filter.afterId);
      const rows = await query.orderBy('id').limit(filter.limit).execute();
      return rows.map(toRecord);
    },
    /** Ids of an organization's keys that are neither revoked nor expired (for policy recomputation). */
    async listLive(organizationId: string, now: string): Promise<ApiKeyRecord[]> {
      const rows = await db
        .selectFrom('api_keys')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .where('status', '=', 'active')
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
        .execute();
      return rows.map(toRecord);
    },
    /** Applies a patch to a key that is still active; false when it is revoked or absent. */
    async update(organizationId: string, id: string, patch: ApiKeyPatch): Promise<boolean> {
      const result = await db
        .updateTable('api_keys')
        .set(patchRow(patch))
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .where('status', '=', 'active')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    /**
     * Marks a key as replaced by `newId`. Atomic: of two concurrent rotations
     * of the same key exactly one gets true (the other finds `rotated_to_id` set).
     */
    async markRotated(
      organizationId: string,
      id: string,
      fields: { rotatedToId: string; rotatedAt: string; expiresAt: string | null },
    ): Promise<boolean> {
      const result = await db
        .updateTable('api_keys')
        .set({
          rotated_to_id: fields.rotatedToId,
          rotated_at: fields.rotatedAt,
          expires_at: fields.expiresAt,
          updated_at: fields.rotatedAt,
        })
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .where('status', '=', 'active')
        .where('rotated_to_id', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    /** Revokes an active key; false when it was not active (already revoked or absent). */
    async revoke(
      organizationId: string,
      id: string,
      by: string | null,
      reason: string | null,
      at: string,
      leak?: { url: string | null; source: string | null },
    ): Promise<boolean> {
      const result = await db
        .updateTable('api_keys')
        .set({
          status: 'revoked',
          revoked_at: at,
          revoked_by: by,
          revoked_reason: reason,
          updated_at: at,
          ...(leak ? { leak_url: leak.url, leak_source: leak.source } : {}),
        })
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .where('status', '=', 'active')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    /** Keys past their expiry whose `api_key.expired` event has not been written yet. */
    async expiredUnnotified(now: string, limit: number): Promise<ApiKeyRecord[]> {
      const rows = await db
        .selectFrom('api_keys')
        .selectAll()
        .where('status', '=', 'active')
        .where('expires_at', '<=', now)
        .where('expired_notified_at', 'is', null)
        .orderBy('expires_at')
        .limit(limit)
        .execute();
      return rows.map(toRecord);
    },
    /** Live keys past their rotation date, not rotated, whose `api_key.rotation_due` is not written yet. */
    async rotationDueUnnotified(now: string, limit: number): Promise<ApiKeyRecord[]> {
      const rows = await db
        .selectFrom('api_keys')
        .selectAll()
        .where('status', '=', 'active')
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
        .where('rotated_to_id', 'is', null)
        .where('rotation_due_at', '<=', now)
        .where('rotation_due_notified_at', 'is', null)
        .orderBy('rotation_due_at')
        .limit(limit)
        .execute();
      return rows.map(toRecord);
    },
    /**
     * Claims the once-only notice of a key. Atomic: of several sweepers (nodes,
     * or a sweep racing a test) exactly one gets true, so the event is written once.
     */
    async claimNotice(id: string, notice: 'expired' | 'rotation_due', at: string): Promise<boolean> {
      const column = notice === 'expired' ? 'expired_notified_at' : 'rotation_due_notified_at';
      const result = await db
        .updateTable('api_keys')
        .set({ [column]: at })
        .where('id', '=', id)
        .where(column, 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    /** Adds batched usage counts; one statement per key, all inside the caller's transaction. */
    async addUsage(deltas: readonly UsageDelta[]): Promise<void> {
      for (const d of deltas) {
        await db
          .updateTable('api_keys')
          .set((eb) => ({
            request_count: eb('request_count', '+', d.count),
            last_used_at: d.lastUsedAt,
            last_ip: d.lastIp,
          }))
          .where('id', '=', d.keyId)
          .execute();
      }
    },
  };
}

export type ApiKeysRepo = ReturnType<typeof createApiKeysRepo>;
