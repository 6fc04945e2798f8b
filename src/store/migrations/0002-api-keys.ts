import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * Issue 3: what a complete API key needs beyond authentication: allowlist,
 * rate limit, metadata, rotation links, leak reports, the once-only markers of
 * the expiry and rotation sweeps, and the per-organization key policy.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations describe tables the typed schema does not know yet
export async function up(db: Kysely<any>, _context: MigrationContext): Promise<void> {
  // SQLite adds one column per ALTER TABLE statement.
  const columns: [string, 'text', string | null][] = [
    ['ip_allowlist', 'text', '[]'],
    ['rate_limit', 'text', null],
    ['metadata', 'text', '{}'],
    ['tier', 'text', 'admin'],
    ['rotated_from_id', 'text', null],
    ['rotated_to_id', 'text', null],
    ['rotated_at', 'text', null],
    ['rotation_due_at', 'text', null],
    ['leak_url', 'text', null],
    ['leak_source', 'text', null],
    ['expired_notified_at', 'text', null],
    ['rotation_due_notified_at', 'text', null],
  ];
  for (const [name, type, fallback] of columns) {
    await db.schema
      .alterTable('api_keys')
      .addColumn(name, type, (c) => (fallback === null ? c : c.notNull().defaultTo(fallback)))
      .execute();
  }
  await db.schema
    .createIndex('api_keys_expiry_sweep_idx')
    .on('api_keys')
    .columns(['status', 'expires_at'])
    .execute();

  await db.schema
    .createTable('api_key_policies')
    .addColumn('organization_id', 'text', (c) => c.primaryKey().references('organizations.id'))
    .addColumn('require_expiry', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('max_lifetime', 'text')
    .addColumn('rotation_periods', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}
