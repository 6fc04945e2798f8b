import { newId } from '../../crypto/ids.ts';
import { AppError } from '../../errors/app-error.ts';
import { isUniqueViolation } from '../../store/errors.ts';
import type { Role } from '../../store/repos/roles.ts';
import type { Store } from '../../store/store.ts';
import { buildEvent } from '../audit/events.ts';
import { missingPermissions, type Principal } from '../auth/principal.ts';
import type { Clock } from '../shared/clock.ts';
import type { RequestContext } from '../shared/types.ts';

export interface RoleInput {
  key: string;
  name: string;
  description?: string | null | undefined;
  permissions: string[];
}

export function createRoleService(deps: { store: Store; clock: Clock }) {
  const { store, clock } = deps;

  async function mustGet(organizationId: string, id: string): Promise<Role> {
    const role = await store.roles.get(organizationId, id);
    if (!role) throw new AppError('not_found');
    return role;
  }

  /** Nobody hands out (through a role) a permission they do not hold themselves. */
  function assertCanGrant(principal: Principal, permissions: readonly string[]): void {
    const missing = missingPermissions(principal, permissions);
    if (missing.length > 0) {
      throw new AppError(
        'permission_escalation',
        `You cannot grant permissions you do not hold: ${missing.join(', ')}`,
      );
    }
  }

  function event(
    ctx: RequestContext,
    organizationId: string,
    type: string,
    target: { type: string; id: string },
    data: Record<string, unknown>,
  ) {
    return buildEvent(clock, ctx, { organizationId, type, target, data });
  }

  return {
    list: (organizationId: string) => store.roles.list(organizationId),
    get: mustGet,

    async create(
      principal: Principal,
      ctx: RequestContext,
      organizationId: string,
      input: RoleInput,
    ): Promise<Role> {
      const permissions = [...new Set(input.permissions)];
      assertCanGrant(principal, permissions);
      const now = clock.now().toISOString();
      const role: Role = {
        id: newId('rol', clock.now().getTime()),
        organizationId,
        key: input.key,
        name: input.name,
        description: input.description ?? null,
        permissions,
        builtin: false,
        createdAt: now,
        updatedAt: now,
      };
      try {
        await store.transaction(async (tx) => {
          await tx.roles.insert(role);
          await tx.events.append([
            event(
              ctx,
              organizationId,
              'role.created',
              { type: 'role', id: role.id },
              { key: role.key, permissions },
            ),
          ]);
        });
      } catch (error) {
        if (isUniqueViolation(error))
          throw new AppError('conflict', `A role with key ${input.key} already exists`);
        throw error;
      }
      return role;
    },

    async update(
      principal: Principal,
      ctx: RequestContext,
      organizationId: string,
      id: string,
      patch: {
        name?: string | undefined;
        description?: string | null | undefined;
        permissions?: string[] | undefined;
      },
    ): Promise<Role> {
      const before = await mustGet(organizationId, id);
      if (before.builtin) throw new AppError('protected_resource', 'Built-in roles cannot be changed');
      const permissions = patch.permissions ? [...new Set(patch.permissions)] : before.permissions;
      const added = permissions.filter((p) => !before.permissions.includes(p));
      assertCanGrant(principal, added);
      const after: Role = {
        ...before,
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.description !== undefined ? { description: patch.description } : {}),
        permissions,
        updatedAt: clock.now().toISOString(),
      };
      await store.transaction(async (tx) => {
        await tx.roles.update(after);
        await tx.events.append([
          event(
            ctx,
            organizationId,
            'role.updated',
            { type: 'role', id },
            {
              key: after.key,
              added,
              removed: before.permissions.filter((p) => !permissions.includes(p)),
            },
          ),
        ]);
      });
      return after;
    },

    async delete(ctx: RequestContext, organizationId: string, id: string): Promise<void> {
      const role = await mustGet(organizationId, id);
      if (role.builtin) throw new AppError('protected_resource', 'Built-in roles cannot be deleted');
      await store.transaction(async (tx) => {
        await tx.roles.delete(organizationId, id);
        await tx.events.append([
          event(ctx, organizationId, 'role.deleted', { type: 'role', id }, { key: role.key }),
        ]);
      });
    },

    async rolesOfUser(organizationId: string, userId: string): Promise<Role[]> {
      if (!(await store.users.get(organizationId, userId))) throw new AppError('not_found');
      return store.roles.rolesOfUser(organizationId, userId);
    },

    async assign(
      principal: Principal,
      ctx: RequestContext,
      organizationId: string,
      userId: string,
      roleId: string,
    ): Promise<Role> {
      const user = await store.users.get(organizationId, userId);
      const role = await store.roles.get(organizationId, roleId);
      if (!user || !role) throw new AppError('not_found');
      assertCanGrant(principal, role.permissions);
      await store.transaction(async (tx) => {
        const added = await tx.roles.assign(organizationId, userId, roleId, clock.now().toISOString());
        if (!added) return;
        await tx.events.append([
          event(
            ctx,
            organizationId,
            'role.assigned',
            { type: 'user', id: userId },
            { roleId, roleKey: role.key, userId },
          ),
        ]);
      });
      return role;
    },

    async unassign(
      ctx: RequestContext,
      organizationId: string,
      userId: string,
      roleId: string,
    ): Promise<void> {
      const role = await store.roles.get(organizationId, roleId);
      if (!role || !(await store.users.get(organizationId, userId))) throw new AppError('not_found');
      await store.transaction(async (tx) => {
        const removed = await tx.roles.unassign(organizationId, userId, roleId);
        if (!removed) throw new AppError('not_found', 'The user does not have this role');
        await tx.events.append([
          event(
            ctx,
            organizationId,
            'role.unassigned',
            { type: 'user', id: userId },
            { roleId, roleKey: role.key, userId },
          ),
        ]);
      });
    },

    /** Union of the permissions of a user's roles. */
    async effectivePermissions(organizationId: string, userId: string): Promise<string[]> {
      const roles = await store.roles.rolesOfUser(organizationId, userId);
      return [...new Set(roles.flatMap((r) => r.permissions))].sort();
    },
  };
}

export type RoleService = ReturnType<typeof createRoleService>;
