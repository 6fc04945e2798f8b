import type { Kysely, Selectable } from 'kysely';
import type { Database, RolesTable } from '../schema.ts';

export interface Role {
  id: string;
  organizationId: string;
  key: string;
  name: string;
  description: string | null;
  permissions: string[];
  builtin: boolean;
  createdAt: string;
  updatedAt: string;
}

function toRole(row: Selectable<RolesTable>): Role {
  return {
    id: row.id,
    organizationId: row.organization_id,
    key: row.key,
    name: row.name,
    description: row.description,
    permissions: JSON.parse(row.permissions) as string[],
    builtin: row.builtin === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function createRolesRepo(db: Kysely<Database>) {
  return {
    async insert(role: Role): Promise<void> {
      await db
        .insertInto('roles')
        .values({
          id: role.id,
          organization_id: role.organizationId,
          key: role.key,
          name: role.name,
          description: role.description,
          permissions: JSON.stringify(role.permissions),
          builtin: role.builtin ? 1 : 0,
          created_at: role.createdAt,
          updated_at: role.updatedAt,
        })
        .execute();
    },
    async get(organizationId: string, id: string): Promise<Role | undefined> {
      const row = await db
        .selectFrom('roles')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .executeTakeFirst();
      return row ? toRole(row) : undefined;
    },
    async list(organizationId: string): Promise<Role[]> {
      const rows = await db
        .selectFrom('roles')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .orderBy('builtin', 'desc')
        .orderBy('id')
        .execute();
      return rows.map(toRole);
    },
    async update(role: Role): Promise<void> {
      await db
        .updateTable('roles')
        .set({
          name: role.name,
          description: role.description,
          permissions: JSON.stringify(role.permissions),
          updated_at: role.updatedAt,
        })
        .where('organization_id', '=', role.organizationId)
        .where('id', '=', role.id)
        .execute();
    },
    async delete(organizationId: string, id: string): Promise<void> {
      await db
        .deleteFrom('user_roles')
        .where('organization_id', '=', organizationId)
        .where('role_id', '=', id)
        .execute();
      await db
        .deleteFrom('roles')
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .execute();
    },
    async rolesOfUser(organizationId: string, userId: string): Promise<Role[]> {
      const rows = await db
        .selectFrom('user_roles')
        .innerJoin('roles', 'roles.id', 'user_roles.role_id')
        .selectAll('roles')
        .where('user_roles.organization_id', '=', organizationId)
        .where('user_roles.user_id', '=', userId)
        .orderBy('roles.id')
        .execute();
      return rows.map(toRole);
    },
    /** Returns false when the user already had the role. */
    async assign(organizationId: string, userId: string, roleId: string, at: string): Promise<boolean> {
      const existing = await db
        .selectFrom('user_roles')
        .select('role_id')
        .where('user_id', '=', userId)
        .where('role_id', '=', roleId)
        .executeTakeFirst();
      if (existing) return false;
      await db
        .insertInto('user_roles')
        .values({ organization_id: organizationId, user_id: userId, role_id: roleId, created_at: at })
        .execute();
      return true;
    },
    /** Returns false when the user did not have the role. */
    async unassign(organizationId: string, userId: string, roleId: string): Promise<boolean> {
      const result = await db
        .deleteFrom('user_roles')
        .where('organization_id', '=', organizationId)
        .where('user_id', '=', userId)
        .where('role_id', '=', roleId)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
  };
}

export type RolesRepo = ReturnType<typeof createRolesRepo>;
