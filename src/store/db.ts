import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  /** Where the data lives, without credentials: for logs and `/readyz`. */
  describe: string;
  close(): Promise<void>;
}

// pg returns int8 (COUNT, BIGSERIAL) as strings by default; every such value here fits a double.
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
};

export function openDatabase(options: { databaseUrl?: string | undefined; dataDir: string }): Db {
  if (options.databaseUrl) {
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 10, types: pgTypes });
    const url = new URL(options.databaseUrl);
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return {
      kysely,
      dialect: 'postgres',
      describe: `postgres://${url.hostname}:${url.port || 5432}${url.pathname}`,
      close: () => kyselyClose(kysely),
    };
  }
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const file = join(options.dataDir, 'latchkey.db');
  return openSqlite(file);
}

export function openSqlite(file: string): Db {
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('synchronous = NORMAL');
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { kysely, dialect: 'sqlite', describe: `sqlite:${file}`, close: () => kyselyClose(kysely) };
}

/** Kysely's destroy ends the pg pool or closes the SQLite handle. */
function kyselyClose(kysely: Kysely<Database>): Promise<void> {
  return kysely.destroy();
}
