import type { Kysely, Selectable } from 'kysely';
import type { Database, OrganizationsTable } from '../schema.ts';

export interface Organization {
  id: string;
  name: string;
  mode: 'live' | 'test';
  isRoot: boolean;
  settings: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

function toOrganization(row: Selectable<OrganizationsTable>): Organization {
  return {
    id: row.id,
    name: row.name,
    mode: row.mode,
    isRoot: row.is_root === 1,
    settings: JSON.parse(row.settings) as Record<string, unknown>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function createOrganizationsRepo(db: Kysely<Database>) {
  return {
    async insert(org: Organization): Promise<void> {
      await db
        .insertInto('organizations')
        .values({
          id: org.id,
          name: org.name,
          mode: org.mode,
          is_root: org.isRoot ? 1 : 0,
          settings: JSON.stringify(org.settings),
          created_at: org.createdAt,
          updated_at: org.updatedAt,
        })
        .execute();
    },
    async get(id: string): Promise<Organization | undefined> {
      const row = await db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toOrganization(row) : undefined;
    },
    async count(): Promise<number> {
      const row = await db
        .selectFrom('organizations')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
    async update(
      id: string,
      patch: { name?: string; settings?: Record<string, unknown>; updatedAt: string },
    ): Promise<void> {
      await db
        .updateTable('organizations')
        .set({
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.settings !== undefined ? { settings: JSON.stringify(patch.settings) } : {}),
          updated_at: patch.updatedAt,
        })
        .where('id', '=', id)
        .execute();
    },
  };
}

export type OrganizationsRepo = ReturnType<typeof createOrganizationsRepo>;
