import { newId } from '../../crypto/ids.ts';
import { AppError } from '../../errors/app-error.ts';
import { isUniqueViolation } from '../../store/errors.ts';
import type { Organization } from '../../store/repos/organizations.ts';
import type { Store } from '../../store/store.ts';
import type { ApiKeyService, ApiKeyView } from '../api-keys/service.ts';
import { buildEvent } from '../audit/events.ts';
import type { Principal } from '../auth/principal.ts';
import { ALL_PERMISSIONS, BUILTIN_ROLES } from '../permissions/catalogue.ts';
import type { Clock } from '../shared/clock.ts';
import type { MaybePromise } from '../shared/maybe-promise.ts';
import { createSingleFlight } from '../shared/single-flight.ts';
import { type RequestContext, systemContext } from '../shared/types.ts';

export interface CreatedOrganization {
  organization: Organization;
  ownerKey: { view: ApiKeyView; key: string };
}

export function createOrganizationService(deps: { store: Store; clock: Clock; apiKeys: ApiKeyService }) {
  const { store, clock, apiKeys } = deps;
  // GET /v1/users/me reads the caller's organization on every request: a short-lived read cache keeps
  // that off the database (issue 3's hot-path benchmark). `update` evicts; other nodes see a rename within 5 s.
  const cache = new Map<string, { org: Organization; until: number }>();
  const CACHE_MS = 5000;

  const reads = createSingleFlight<string, Organization>();

  async function load(id: string): Promise<Organization> {
    const org = await store.organizations.get(id);
    if (!org) throw new AppError('not_found');
    if (cache.size >= 10_000) cache.clear();
    cache.set(id, { org, until: clock.nowMs() + CACHE_MS });
    return org;
  }

  async function createWithin(
    tx: Store,
    ctx: RequestContext,
    input: { name: string; mode: 'live' | 'test'; isRoot: boolean },
  ): Promise<CreatedOrganization> {
    const now = clock.now();
    const organization: Organization = {
      id: newId('org', now.getTime()),
      name: input.name,
      mode: input.mode,
      isRoot: input.isRoot,
      settings: {},
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
    };
    await tx.organizations.insert(organization);
    for (const role of BUILTIN_ROLES) {
      await tx.roles.insert({
        id: newId('rol', now.getTime()),
        organizationId: organization.id,
        key: role.key,
        name: role.name,
        description: role.description,
        permissions: [...role.permissions],
        builtin: true,
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
      });
    }
    await tx.events.append([
      buildEvent(clock, ctx, {
        organizationId: organization.id,
        type: 'organization.created',
        target: { type: 'organization', id: organization.id },
        data: { name: organization.name, mode: organization.mode },
      }),
    ]);
    const permissions = input.isRoot
      ? [...ALL_PERMISSIONS]
      : ALL_PERMISSIONS.filter((p) => p !== 'organizations:create');
    const created = await apiKeys.insertKey(tx, ctx, {
      organizationId: organization.id,
      prefix: input.mode === 'test' ? 'ak_test_' : 'ak_live_',
      name: 'Owner key',
      description:
        'Created with the organization; holds every permission. Protected from automatic revocation.',
      permissions,
      scope: 'owner',
      expiresAt: null,
      isOwner: true,
    });
    return { organization, ownerKey: { view: apiKeys.view(created.record), key: created.key } };
  }

  return {
    /**
     * Creates the root organization and its owner key when the database holds
     * no organization yet. Returns `undefined` when already bootstrapped.
     * Two processes racing here create one organization: the `meta` row is the lock.
     */
    async bootstrap(name = 'Default organization'): Promise<CreatedOrganization | undefined> {
      if ((await store.organizations.count()) > 0) return undefined;
      try {
        return await store.transaction(async (tx) => {
          await tx.meta.claim('bootstrapped', clock.now().toISOString());
          return createWithin(tx, systemContext, { name, mode: 'live', isRoot: true });
        });
      } catch (error) {
        if (isUniqueViolation(error)) return undefined;
        throw error;
      }
    },

    async create(principal: Principal, ctx: RequestContext, input: { name: string; mode: 'live' | 'test' }) {
      if (!principal.rootOrganization) {
        throw new AppError(
          'permission_denied',
          'Only keys of the root organization can create organizations',
        );
      }
      return store.transaction((tx) => createWithin(tx, ctx, { ...input, isRoot: false }));
    },

    /** An organization, from the read cache (synchronously) while it is fresh, else from the database. */
    get(id: string): MaybePromise<Organization> {
      const hit = cache.get(id);
      if (hit && hit.until > clock.nowMs()) return hit.org;
      return reads.run(id, () => load(id)); // concurrent misses share one read
    },

    async update(
      ctx: RequestContext,
      id: string,
      patch: { name?: string | undefined },
    ): Promise<Organization> {
      const before = await store.organizations.get(id);
      if (!before) throw new AppError('not_found');
      const updatedAt = clock.now().toISOString();
      cache.delete(id);
      await store.transaction(async (tx) => {
        await tx.organizations.update(id, {
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          updatedAt,
        });
        await tx.events.append([
          buildEvent(clock, ctx, {
            organizationId: id,
            type: 'organization.updated',
            target: { type: 'organization', id },
            data: { changes: patch },
          }),
        ]);
      });
      cache.delete(id);
      reads.forget(id);
      return { ...before, ...(patch.name !== undefined ? { name: patch.name } : {}), updatedAt };
    },
  };
}

export type OrganizationService = ReturnType<typeof createOrganizationService>;
