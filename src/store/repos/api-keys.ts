import type { Kysely, Selectable } from 'kysely';
import type { ApiKeysTable, Database } from '../schema.ts';

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
}

export interface ApiKeyFilter {
  status?: 'active' | 'revoked' | 'expired' | undefined;
  now: string;
  afterId?: string | undefined;
  limit: number;
}

export interface UsageDelta {
  keyId: string;
  count: number;
  lastUsedAt: string;
  lastIp: string | null;
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
      if (filter.status === 'revoked') query = query.where('status', '=', 'revoked');
      if (filter.status === 'active') {
        query = query
          .where('status', '=', 'active')
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', filter.now)]));
      }
      if (filter.status === 'expired') {
        query = query.where('status', '=', 'active').where('expires_at', '<=', filter.now);
      }
      if (filter.afterId !== undefined) query = query.where('id', '>', filter.afterId);
      const rows = await query.orderBy('id').limit(filter.limit).execute();
      return rows.map(toRecord);
    },
    /** Revokes an active key; false when it was not active (already revoked or absent). */
    async revoke(
      organizationId: string,
      id: string,
      by: string | null,
      reason: string | null,
      at: string,
    ): Promise<boolean> {
      const result = await db
        .updateTable('api_keys')
        .set({ status: 'revoked', revoked_at: at, revoked_by: by, revoked_reason: reason, updated_at: at })
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .where('status', '=', 'active')
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
