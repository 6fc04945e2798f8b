import { AppError } from '../../errors/app-error.ts';
import type { KeyTier } from '../../store/repos/api-keys.ts';
import type { Store } from '../../store/store.ts';
import { buildEvent } from '../audit/events.ts';
import type { Clock } from '../shared/clock.ts';
import type { RequestContext } from '../shared/types.ts';
import { type ApiKeyPolicy, DEFAULT_POLICY, rotationDueAt } from './policy.ts';

export interface PolicyInput {
  requireExpiry?: boolean | undefined;
  maxLifetime?: string | null | undefined;
  rotationPeriods?: Partial<Record<KeyTier, string>> | undefined;
}

/** Per-organization key policy: required expiry, maximum lifetime, rotation period per tier. */
export function createApiKeyPolicyService(deps: { store: Store; clock: Clock }) {
  const { store, clock } = deps;

  async function get(organizationId: string): Promise<ApiKeyPolicy> {
    if (!(await store.organizations.get(organizationId))) throw new AppError('not_found');
    return (await store.apiKeyPolicies.get(organizationId)) ?? DEFAULT_POLICY;
  }

  return {
    get,

    /**
     * Changes the fields given and keeps the others. Live keys get their
     * rotation date recomputed from their creation time, in the same transaction.
     */
    async update(ctx: RequestContext, organizationId: string, input: PolicyInput): Promise<ApiKeyPolicy> {
      const before = await get(organizationId);
      const now = clock.now().toISOString();
      const policy: ApiKeyPolicy = {
        requireExpiry: input.requireExpiry ?? before.requireExpiry,
        maxLifetime: input.maxLifetime !== undefined ? input.maxLifetime : before.maxLifetime,
        rotationPeriods: { ...before.rotationPeriods, ...input.rotationPeriods },
        updatedAt: now,
      };
      await store.transaction(async (tx) => {
        await tx.apiKeyPolicies.put({ organizationId, ...policy, updatedAt: now });
        for (const key of await tx.apiKeys.listLive(organizationId, now)) {
          const due = rotationDueAt(key.createdAt, key.tier, policy);
          if (due !== key.rotationDueAt) {
            await tx.apiKeys.update(organizationId, key.id, { rotationDueAt: due, updatedAt: key.updatedAt });
          }
        }
        await tx.events.append([
          buildEvent(clock, ctx, {
            organizationId,
            type: 'api_key_policy.updated',
            target: { type: 'organization', id: organizationId },
            data: { before: { ...before, updatedAt: undefined }, after: { ...policy, updatedAt: undefined } },
          }),
        ]);
      });
      return policy;
    },
  };
}

export type ApiKeyPolicyService = ReturnType<typeof createApiKeyPolicyService>;
