import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * The event pipeline: the transactional outbox (one row per event, written by
 * `events.append` in the event's own transaction), the commit-ordered stream
 * the pull API tails, webhook endpoints, deliveries and their attempts.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations describe tables the typed schema does not know yet
export async function up(db: Kysely<any>, { dialect }: MigrationContext): Promise<void> {
  const serial = dialect === 'postgres' ? 'bigserial' : 'integer';
  // biome-ignore lint/suspicious/noExplicitAny: the column builder type differs per call site
  const serialKey = (c: any) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement());

  await db.schema
    .createTable('event_outbox')
    .addColumn('seq', serial, serialKey)
    .addColumn('event_id', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('event_stream')
    .addColumn('pos', serial, serialKey)
    .addColumn('event_id', 'text', (c) => c.notNull().unique())
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('event_stream_org_pos_idx')
    .on('event_stream')
    .columns(['organization_id', 'pos'])
    .execute();

  // Lock rows: `fanout` serializes the outbox fan-out; `claim` makes SQLite claims take the write lock first.
  await db.schema
    .createTable('dispatch_locks')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text')
    .addColumn('at', 'text')
    .execute();
  await db
    .insertInto('dispatch_locks')
    .values([
      { name: 'fanout', holder: null, at: null },
      { name: 'claim', holder: null, at: null },
    ])
    .execute();

  await db.schema
    .createTable('webhook_endpoints')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull().references('organizations.id'))
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('event_types', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('disabled_reason', 'text')
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('previous_secret', 'text')
    .addColumn('previous_secret_expires_at', 'text')
    .addColumn('failing_since', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('webhook_endpoints_org_idx')
    .on('webhook_endpoints')
    .columns(['organization_id', 'id'])
    .execute();

  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('seq', serial, serialKey)
    .addColumn('id', 'text', (c) => c.notNull().unique())
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('endpoint_id', 'text', (c) =>
      c.notNull().references('webhook_endpoints.id').onDelete('cascade'),
    )
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('event_type', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'text')
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', 'text')
    .addColumn('last_status', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_queue_idx')
    .on('webhook_deliveries')
    .columns(['endpoint_id', 'status', 'seq'])
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_due_idx')
    .on('webhook_deliveries')
    .columns(['status', 'next_attempt_at'])
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_event_idx')
    .on('webhook_deliveries')
    .columns(['organization_id', 'event_id'])
    .execute();

  await db.schema
    .createTable('webhook_attempts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('delivery_id', 'text', (c) =>
      c.notNull().references('webhook_deliveries.id').onDelete('cascade'),
    )
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('endpoint_id', 'text', (c) => c.notNull())
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('status_code', 'integer')
    .addColumn('latency_ms', 'integer', (c) => c.notNull())
    .addColumn('response_body', 'text')
    .addColumn('error', 'text')
    .addColumn('success', 'integer', (c) => c.notNull())
    .addColumn('dispatcher', 'text', (c) => c.notNull())
    // A second dispatcher recording the same attempt fails here: attempts are never duplicated silently.
    .addUniqueConstraint('webhook_attempts_delivery_attempt_unique', ['delivery_id', 'attempt'])
    .execute();
  await db.schema
    .createIndex('webhook_attempts_endpoint_idx')
    .on('webhook_attempts')
    .columns(['endpoint_id', 'started_at'])
    .execute();
}
