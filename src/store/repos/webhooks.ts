import type { Kysely, Selectable } from 'kysely';
import type { Dialect } from '../db.ts';
import type { Database } from '../schema.ts';
import type {
  DeliveryStatus,
  WebhookAttemptsTable,
  WebhookDeliveriesTable,
  WebhookEndpointsTable,
} from '../schema-events.ts';

export type EndpointRow = Selectable<WebhookEndpointsTable>;
export type DeliveryRow = Selectable<WebhookDeliveriesTable>;
export type AttemptRow = Selectable<WebhookAttemptsTable>;

export interface NewDelivery {
  id: string;
  organization_id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  payload: string;
  created_at: string;
}

export interface DeliveryFilter {
  endpointId?: string | undefined;
  eventId?: string | undefined;
  status?: DeliveryStatus | undefined;
  /** Keyset: deliveries older than this sequence number (newest first). */
  beforeSeq?: number | undefined;
  limit: number;
}

export function createWebhooksRepo(db: Kysely<Database>, dialect: Dialect) {
  return {
    async insertEndpoint(row: EndpointRow): Promise<void> {
      await db.insertInto('webhook_endpoints').values(row).execute();
    },
    async updateEndpoint(organizationId: string, id: string, patch: Partial<EndpointRow>): Promise<boolean> {
      const res = await db
        .updateTable('webhook_endpoints')
        .set(patch)
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },
    async deleteEndpoint(organizationId: string, id: string): Promise<boolean> {
      const res = await db
        .deleteFrom('webhook_endpoints')
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    },
    async getEndpoint(organizationId: string, id: string): Promise<EndpointRow | undefined> {
      return db
        .selectFrom('webhook_endpoints')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .executeTakeFirst();
    },
    async endpointById(id: string): Promise<EndpointRow | undefined> {
      return db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirst();
    },
    async listEndpoints(
      organizationId: string,
      afterId: string | undefined,
      limit: number,
    ): Promise<EndpointRow[]> {
      let q = db.selectFrom('webhook_endpoints').selectAll().where('organization_id', '=', organizationId);
      if (afterId !== undefined) q = q.where('id', '>', afterId);
      return q.orderBy('id').limit(limit).execute();
    },
    /** Enabled endpoints of these organizations: the fan-out's subscribers. */
    async enabledEndpoints(organizationIds: readonly string[]): Promise<EndpointRow[]> {
      if (organizationIds.length === 0) return [];
      return db
        .selectFrom('webhook_endpoints')
        .selectAll()
        .where('organization_id', 'in', [...organizationIds])
        .where('enabled', '=', 1)
        .execute();
    },
    /** `lease` hands the new rows to one dispatcher at once (test-send attempts its own row). */
    async insertDeliveries(
      rows: readonly NewDelivery[],
      lease?: { lease_owner: string; lease_until: string },
    ): Promise<void> {
      for (let i = 0; i < rows.length; i += 100) {
        await db
          .insertInto('webhook_deliveries')
          .values(
            rows.slice(i, i + 100).map((r) => ({
              ...r,
              status: 'pending' as const,
              attempts: 0,
              failures: 0,
              next_attempt_at: r.created_at,
              updated_at: r.created_at,
              ...(lease ?? {}),
            })),
          )
          .execute();
      }
    },
    /**
     * Claims up to `limit` due deliveries, each the oldest pending delivery of
     * its endpoint (deliveries to one endpoint go in order, one at a time),
     * and leases them to `owner` until `leaseUntil`. Exactly one caller
     * receives a row: on PostgreSQL the candidates are locked FOR UPDATE SKIP
     * LOCKED and leased in the same transaction; SQLite has a single writer.
     * Call inside a transaction.
     */
    async claimDue(owner: string, now: string, leaseUntil: string, limit: number): Promise<DeliveryRow[]> {
      if (dialect === 'sqlite') {
        // Take SQLite's write lock before reading: a read transaction that later writes fails with
        // SQLITE_BUSY when another process (serve next to worker) committed in between.
        await db
          .updateTable('dispatch_locks')
          .set({ holder: owner, at: now })
          .where('name', '=', 'claim')
          .execute();
      }
      let query = db
        .selectFrom('webhook_deliveries as d')
        .selectAll('d')
        .where('d.status', '=', 'pending')
        .where('d.next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('d.lease_until', 'is', null), eb('d.lease_until', '<', now)]))
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('webhook_deliveries as e')
                .select('e.seq')
                .where('e.endpoint_id', '=', eb.ref('d.endpoint_id'))
                .where('e.status', '=', 'pending')
                .where('e.seq', '<', eb.ref('d.seq')),
            ),
          ),
        )
        .where((eb) =>
          eb.exists(
            eb
              .selectFrom('webhook_endpoints as w')
              .select('w.id')
              .where('w.id', '=', eb.ref('d.endpoint_id'))
              .where('w.enabled', '=', 1),
          ),
        )
        .orderBy('d.seq')
        .limit(limit);
      if (dialect === 'postgres') query = query.forUpdate().skipLocked();
      const rows = await query.execute();
      if (rows.length === 0) return [];
      await db
        .updateTable('webhook_deliveries')
        .set({ lease_owner: owner, lease_until: leaseUntil })
        .where(
          'id',
          'in',
          rows.map((r) => r.id),
        )
        .execute();
      return rows.map((r) => ({ ...r, lease_owner: owner, lease_until: leaseUntil }));
    },
    /**
     * Leases the first `limit` deliveries of one endpoint's queue to `owner`,
     * as far as they are due and free: how a dispatcher that just finished a
     * run goes on with the next without another claim round. Only the holder
     * of an endpoint's head calls this, and other claimers take only heads, so
     * the rows behind the head are not contended; the conditional UPDATE
     * still makes the lease the claim.
     */
    async claimRunOf(
      endpointId: string,
      owner: string,
      now: string,
      leaseUntil: string,
      limit: number,
    ): Promise<DeliveryRow[]> {
      const rows = await db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where('endpoint_id', '=', endpointId)
        .where('status', '=', 'pending')
        .orderBy('seq')
        .limit(limit)
        .execute();
      const run: DeliveryRow[] = [];
      for (const r of rows) {
        if (r.next_attempt_at === null || r.next_attempt_at > now) break;
        if (r.lease_until !== null && r.lease_until >= now) break;
        run.push(r);
      }
      if (run.length === 0) return [];
      const res = await db
        .updateTable('webhook_deliveries')
        .set({ lease_owner: owner, lease_until: leaseUntil })
        .where(
          'id',
          'in',
          run.map((r) => r.id),
        )
        .where('status', '=', 'pending')
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== run.length) {
        // Someone else leased part of it meanwhile: give back what this call took.
        await db
          .updateTable('webhook_deliveries')
          .set({ lease_owner: null, lease_until: null })
          .where(
            'id',
            'in',
            run.map((r) => r.id),
          )
          .where('lease_owner', '=', owner)
          .where('lease_until', '=', leaseUntil)
          .execute();
        return [];
      }
      return run.map((r) => ({ ...r, lease_owner: owner, lease_until: leaseUntil }));
    },
    async releaseLeases(ids: readonly string[], owner: string): Promise<void> {
      if (ids.length === 0) return;
      await db
        .updateTable('webhook_deliveries')
        .set({ lease_owner: null, lease_until: null })
        .where('id', 'in', [...ids])
        .where('lease_owner', '=', owner)
        .execute();
    },
    /** Records an attempt's outcome; false (and nothing written) when the lease was lost to another dispatcher. */
    /**
     * Records the outcomes of attempts (one per delivery) in one go; a
     * delivery whose lease `owner` no longer holds is skipped (its attempt is
     * not recorded). Returns how many were recorded. Call in a transaction.
     */
    async finishAttempts(
      outcomes: readonly {
        attempt: AttemptRow;
        update: Pick<
          DeliveryRow,
          'id' | 'status' | 'next_attempt_at' | 'failures' | 'last_status' | 'last_error'
        >;
      }[],
      owner: string,
      now: string,
    ): Promise<number> {
      const recorded: AttemptRow[] = [];
      // Successes differ only in their ids and status codes: one UPDATE per status code (the common case,
      // a healthy receiver answering 200 to a run, is one statement).
      const byStatus = new Map<number | null, typeof outcomes>();
      for (const o of outcomes) {
        if (o.update.status !== 'succeeded') continue;
        byStatus.set(o.update.last_status, [...(byStatus.get(o.update.last_status) ?? []), o]);
      }
      for (const [status, group] of byStatus) {
        const owned = await db
          .updateTable('webhook_deliveries')
          .set((eb) => ({
            status: 'succeeded',
            next_attempt_at: null,
            failures: 0,
            attempts: eb('attempts', '+', 1),
            last_status: status,
            last_error: null,
            lease_owner: null,
            lease_until: null,
            updated_at: now,
          }))
          .where(
            'id',
            'in',
            group.map((o) => o.update.id),
          )
          .where('lease_owner', '=', owner)
          .returning(['id'])
          .execute();
        const ownedIds = new Set(owned.map((r) => r.id));
        for (const o of group) if (ownedIds.has(o.update.id)) recorded.push(o.attempt);
      }
      for (const { attempt, update } of outcomes) {
        if (update.status === 'succeeded') continue;
        const res = await db
          .updateTable('webhook_deliveries')
          .set({
            status: update.status,
            next_attempt_at: update.next_attempt_at,
            failures: update.failures,
            attempts: attempt.attempt,
            last_status: update.last_status,
            last_error: update.last_error,
            lease_owner: null,
            lease_until: null,
            updated_at: now,
          })
          .where('id', '=', update.id)
          .where('lease_owner', '=', owner)
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) > 0) recorded.push(attempt);
      }
      for (let i = 0; i < recorded.length; i += 50) {
        await db
          .insertInto('webhook_attempts')
          .values(recorded.slice(i, i + 50))
          .execute();
      }
      return recorded.length;
    },
    async getDelivery(organizationId: string, id: string): Promise<DeliveryRow | undefined> {
      return db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .executeTakeFirst();
    },
    async listDeliveries(organizationId: string, filter: DeliveryFilter): Promise<DeliveryRow[]> {
      let q = db.selectFrom('webhook_deliveries').selectAll().where('organization_id', '=', organizationId);
      if (filter.endpointId !== undefined) q = q.where('endpoint_id', '=', filter.endpointId);
      if (filter.eventId !== undefined) q = q.where('event_id', '=', filter.eventId);
      if (filter.status !== undefined) q = q.where('status', '=', filter.status);
      if (filter.beforeSeq !== undefined) q = q.where('seq', '<', filter.beforeSeq);
      return q.orderBy('seq', 'desc').limit(filter.limit).execute();
    },
    async attemptsOf(deliveryIds: readonly string[]): Promise<AttemptRow[]> {
      if (deliveryIds.length === 0) return [];
      return db
        .selectFrom('webhook_attempts')
        .selectAll()
        .where('delivery_id', 'in', [...deliveryIds])
        .orderBy('delivery_id')
        .orderBy('attempt')
        .execute();
    },
    /** Puts a delivery back in the queue now, with a fresh retry schedule. */
    async requeue(organizationId: string, id: string, now: string): Promise<boolean> {
      const res = await db
        .updateTable('webhook_deliveries')
        .set({
          status: 'pending',
          next_attempt_at: now,
          failures: 0,
          lease_owner: null,
          lease_until: null,
          updated_at: now,
        })
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },
    /**
     * Deletes up to `limit` finished deliveries (succeeded or failed, not requeued since) last
     * changed before `before`, with their attempts; returns how many deliveries went. Oldest
     * first, by sequence number, so the scan stops as soon as it has found enough.
     */
    async pruneFinished(before: string, limit: number): Promise<number> {
      const ids = (
        await db
          .selectFrom('webhook_deliveries')
          .select('id')
          .where('status', 'in', ['succeeded', 'failed'])
          .where('updated_at', '<', before)
          .orderBy('seq')
          .limit(limit)
          .execute()
      ).map((r) => r.id);
      if (ids.length === 0) return 0;
      await db.deleteFrom('webhook_attempts').where('delivery_id', 'in', ids).execute();
      const res = await db
        .deleteFrom('webhook_deliveries')
        .where('id', 'in', ids)
        .where('status', 'in', ['succeeded', 'failed'])
        .executeTakeFirst();
      return Number(res.numDeletedRows);
    },
    async countByStatus(endpointId: string): Promise<Record<DeliveryStatus, number>> {
      const rows = await db
        .selectFrom('webhook_deliveries')
        .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
        .where('endpoint_id', '=', endpointId)
        .groupBy('status')
        .execute();
      const out: Record<DeliveryStatus, number> = { pending: 0, succeeded: 0, failed: 0 };
      for (const r of rows) out[r.status] = Number(r.n);
      return out;
    },
  };
}

export type WebhooksRepo = ReturnType<typeof createWebhooksRepo>;
