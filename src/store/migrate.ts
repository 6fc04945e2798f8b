import { Migrator } from 'kysely/migration';
import type { Db } from './db.ts';
import { migrationProvider } from './migrations/index.ts';

export interface MigrationReport {
  applied: string[];
}

/** Applies every pending migration; safe to run concurrently (Kysely takes a lock table). */
export async function migrateToLatest(db: Db): Promise<MigrationReport> {
  const migrator = new Migrator({
    db: db.kysely,
    provider: migrationProvider(db.dialect),
    migrationTableName: 'latchkey_migrations',
    migrationLockTableName: 'latchkey_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}
