import type { Kysely } from 'kysely';
import type { Database } from '../schema.ts';
import type { KeyTier } from './api-keys.ts';

export interface ApiKeyPolicyRecord {
  organizationId: string;
  requireExpiry: boolean;
  /** Duration such as `"365d"`, or null for no maximum. */
  maxLifetime: string | null;
  rotationPeriods: Record<KeyTier, string>;
  updatedAt: string;
}

export function createApiKeyPoliciesRepo(db: Kysely<Database>) {
  return {
    async get(organizationId: string): Promise<ApiKeyPolicyRecord | undefined> {
      const row = await db
        .selectFrom('api_key_policies')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .executeTakeFirst();
      if (!row) return undefined;
      return {
        organizationId: row.organization_id,
        requireExpiry: row.require_expiry === 1,
        maxLifetime: row.max_lifetime,
        rotationPeriods: JSON.parse(row.rotation_periods) as Record<KeyTier, string>,
        updatedAt: row.updated_at,
      };
    },
    async put(policy: ApiKeyPolicyRecord): Promise<void> {
      const values = {
        require_expiry: policy.requireExpiry ? 1 : 0,
        max_lifetime: policy.maxLifetime,
        rotation_periods: JSON.stringify(policy.rotationPeriods),
        updated_at: policy.updatedAt,
      };
      await db
        .insertInto('api_key_policies')
        .values({ organization_id: policy.organizationId, ...values })
        .onConflict((oc) => oc.column('organization_id').doUpdateSet(values))
        .execute();
    },
  };
}
