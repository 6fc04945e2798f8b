import type { Kysely } from 'kysely';
import type { Database } from '../schema.ts';

export function createMetaRepo(db: Kysely<Database>) {
  return {
    /** Inserts a marker row; throws a unique violation when another caller claimed it first. */
    async claim(key: string, value: string): Promise<void> {
      await db.insertInto('meta').values({ key, value }).execute();
    },
    async get(key: string): Promise<string | undefined> {
      const row = await db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst();
      return row?.value;
    },
  };
}
