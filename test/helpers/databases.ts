import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type Db, openDatabase, openSqlite } from '../../src/store/db.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';

export type DbTarget = 'sqlite' | 'postgres';

/**
 * SQLite always; PostgreSQL too when TEST_DATABASE_URL is set (CI sets it to a
 * fresh database). LATCHKEY_TEST_TARGETS=sqlite|postgres narrows the run.
 */
export const dbTargets: DbTarget[] = (() => {
  const all: DbTarget[] = process.env.TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
  const only = process.env.LATCHKEY_TEST_TARGETS?.split(',').map((s) => s.trim());
  return only ? all.filter((t) => only.includes(t)) : all;
})();

export interface TestDb {
  db: Db;
  target: DbTarget;
  /** The connection string (PostgreSQL) or file (SQLite), for CLI tests that open it themselves. */
  url: string | undefined;
  dataDir: string;
  drop(): Promise<void>;
}

/**
 * A fresh, migrated database per call: a temporary SQLite file, or a new
 * PostgreSQL database created next to TEST_DATABASE_URL and dropped after,
 * so test files never share state and can run in parallel.
 */
export async function createTestDb(target: DbTarget, dataDir: string): Promise<TestDb> {
  if (target === 'sqlite') {
    const db = openSqlite(`${dataDir}/latchkey.db`);
    await migrateToLatest(db);
    return { db, target, url: undefined, dataDir, drop: () => db.close() };
  }
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error('TEST_DATABASE_URL is not set');
  const name = `latchkey_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const db = openDatabase({ databaseUrl: url.toString(), dataDir });
  await migrateToLatest(db);
  return {
    db,
    target,
    url: url.toString(),
    dataDir,
    async drop() {
      await db.close();
      // pg-pool's end() resolves before its sockets have closed; a forced DROP that reaches a client still
      // closing makes it emit an unhandled 57P01 error. Give them a moment.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      // Our pool's backends may take a moment to go away after close(); forcing them out while their
      // clients are still ending makes pg raise an unhandled 57P01 in this process. Wait, then force.
      for (let attempt = 0; ; attempt++) {
        try {
          await c.query(`DROP DATABASE IF EXISTS ${name}${attempt < 20 ? '' : ' WITH (FORCE)'}`);
          break;
        } catch (error) {
          if (attempt >= 20 || (error as { code?: string }).code !== '55006') throw error;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      await c.end();
    },
  };
}
