import type { Kysely, Selectable } from 'kysely';
import type { Database, UsersTable } from '../schema.ts';

export interface User {
  id: string;
  organizationId: string;
  email: string;
  name: string | null;
  status: 'active' | 'disabled';
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export interface UserFilter {
  email?: string | undefined;
  status?: 'active' | 'disabled' | undefined;
  afterId?: string | undefined;
  limit: number;
}

function toUser(row: Selectable<UsersTable>): User {
  return {
    id: row.id,
    organizationId: row.organization_id,
    email: row.email,
    name: row.name,
    status: row.status,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function createUsersRepo(db: Kysely<Database>) {
  return {
    async insert(user: User): Promise<void> {
      await db
        .insertInto('users')
        .values({
          id: user.id,
          organization_id: user.organizationId,
          email: user.email,
          email_normalized: normalizeEmail(user.email),
          name: user.name,
          status: user.status,
          metadata: JSON.stringify(user.metadata),
          created_at: user.createdAt,
          updated_at: user.updatedAt,
        })
        .execute();
    },
    async get(organizationId: string, id: string): Promise<User | undefined> {
      const row = await db
        .selectFrom('users')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .executeTakeFirst();
      return row ? toUser(row) : undefined;
    },
    async list(organizationId: string, filter: UserFilter): Promise<User[]> {
      let query = db.selectFrom('users').selectAll().where('organization_id', '=', organizationId);
      if (filter.email !== undefined)
        query = query.where('email_normalized', '=', normalizeEmail(filter.email));
      if (filter.status !== undefined) query = query.where('status', '=', filter.status);
      if (filter.afterId !== undefined) query = query.where('id', '>', filter.afterId);
      const rows = await query.orderBy('id').limit(filter.limit).execute();
      return rows.map(toUser);
    },
    async update(user: User): Promise<void> {
      await db
        .updateTable('users')
        .set({
          email: user.email,
          email_normalized: normalizeEmail(user.email),
          name: user.name,
          status: user.status,
          metadata: JSON.stringify(user.metadata),
          updated_at: user.updatedAt,
        })
        .where('organization_id', '=', user.organizationId)
        .where('id', '=', user.id)
        .execute();
    },
    async delete(organizationId: string, id: string): Promise<void> {
      await db
        .deleteFrom('user_roles')
        .where('organization_id', '=', organizationId)
        .where('user_id', '=', id)
        .execute();
      await db
        .deleteFrom('users')
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .execute();
    },
  };
}

export type UsersRepo = ReturnType<typeof createUsersRepo>;
