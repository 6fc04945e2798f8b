import type { Kysely } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';
import type { Dialect } from '../db.ts';
import * as m0001 from './0001-core.ts';
import * as m0002 from './0002-api-keys.ts';
import * as m0003 from './0003-events.ts';
import * as m0004 from './0004-oauth.ts';
import * as m0005 from './0005-rules.ts';

export interface MigrationContext {
  dialect: Dialect;
}

interface MigrationModule {
  // biome-ignore lint/suspicious/noExplicitAny: see 0001-core.ts
  up(db: Kysely<any>, context: MigrationContext): Promise<void>;
}

/** Ordered by name; one set for both dialects. Add a file and a line here for each new migration. */
const migrations: Record<string, MigrationModule> = {
  '0001-core': m0001,
  '0002-api-keys': m0002,
  '0003-events': m0003,
  '0004-oauth': m0004,
  '0005-rules': m0005,
};

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return {
    async getMigrations() {
      const out: Record<string, Migration> = {};
      for (const [name, module] of Object.entries(migrations)) {
        out[name] = { up: (db) => module.up(db, { dialect }) };
      }
      return out;
    },
  };
}
