import { newId } from '../../crypto/ids.ts';
import type { SecretBox } from '../../crypto/secret-box.ts';
import { AppError, type FieldError } from '../../errors/app-error.ts';
import { matchesAny, typesMatching } from '../../events/catalogue.ts';
import { toWebhookPayload } from '../../events/payload.ts';
import { OutboundError, type OutboundHttp } from '../../net/outbound.ts';
import type { AttemptRow, DeliveryRow, EndpointRow, NewDelivery } from '../../store/repos/webhooks.ts';
import type { DeliveryStatus } from '../../store/schema-events.ts';
import type { Store } from '../../store/store.ts';
import { buildEvent } from '../audit/events.ts';
import type { Clock } from '../shared/clock.ts';
import { decodeCursor, encodeCursor, type Page, type RequestContext } from '../shared/types.ts';
import { type AttemptResult, secretContext, type WebhookDispatcher } from './dispatcher.ts';
import { newWebhookSecret } from './signing.ts';

export interface WebhookEndpoint {
  id: string;
  organizationId: string;
  url: string;
  description: string | null;
  eventTypes: string[];
  enabled: boolean;
  disabledReason: 'gone' | 'failing' | null;
  previousSecretExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface EndpointInput {
  url: string;
  description?: string | null | undefined;
  eventTypes?: string[] | undefined;
  enabled?: boolean | undefined;
}

export interface Attempt {
  attempt: number;
  at: string;
  success: boolean;
  statusCode: number | null;
  latencyMs: number;
  responseBody: string | null;
  error: string | null;
}

export interface Delivery {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: Attempt[];
  nextAttemptAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** The most events one replay call queues; replay a longer range in several calls. */
export const REPLAY_LIMIT = 10_000;
const DEFAULT_OVERLAP_MS = 24 * 3_600_000;

function toEndpoint(row: EndpointRow): WebhookEndpoint {
  return {
    id: row.id,
    organizationId: row.organization_id,
    url: row.url,
    description: row.description,
    eventTypes: JSON.parse(row.event_types) as string[],
    enabled: row.enabled === 1,
    disabledReason: row.disabled_reason as WebhookEndpoint['disabledReason'],
    previousSecretExpiresAt: row.previous_secret_expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toAttempt(a: AttemptRow): Attempt {
  return {
    attempt: a.attempt,
    at: a.started_at,
    success: a.success === 1,
    statusCode: a.status_code,
    latencyMs: a.latency_ms,
    responseBody: a.response_body,
    error: a.error,
  };
}

function checkFilters(eventTypes: readonly string[]): void {
  const errors: FieldError[] = [];
  eventTypes.forEach((filter, i) => {
    if (typesMatching(filter).length === 0) {
      errors.push({
        location: `/body/eventTypes/${i}`,
        message: `${filter} matches no event type (see GET /v1/event-types)`,
      });
    }
  });
  if (errors.length > 0) throw new AppError('validation_failed', 'Unknown event types', { errors });
}

/** Endpoints, their secrets and their delivery log (docs/webhooks.md). */
export function createWebhookService(deps: {
  store: Store;
  clock: Clock;
  secretBox: SecretBox;
  outbound: OutboundHttp;
  dispatcher: WebhookDispatcher;
}) {
  const { store, clock, secretBox, outbound } = deps;

  async function checkUrl(url: string): Promise<void> {
    try {
      await outbound.assertAllowed(url);
    } catch (error) {
      if (error instanceof OutboundError) {
        throw new AppError('webhook_url_refused', error.message, {
          errors: [{ location: '/body/url', message: `${error.code}: ${error.message}` }],
        });
      }
      throw error;
    }
  }

  async function mustGet(organizationId: string, id: string): Promise<EndpointRow> {
    const row = await store.webhooks.getEndpoint(organizationId, id);
    if (!row) throw new AppError('not_found', 'No such webhook endpoint');
    return row;
  }

  function event(ctx: RequestContext, row: EndpointRow, type: string, data: Record<string, unknown>) {
    return buildEvent(clock, ctx, {
      organizationId: row.organization_id,
      type,
      target: { type: 'webhook_endpoint', id: row.id },
      data: { endpointId: row.id, url: row.url, ...data },
    });
  }

  async function withAttempts(rows: DeliveryRow[]): Promise<Delivery[]> {
    const attempts = await store.webhooks.attemptsOf(rows.map((r) => r.id));
    return rows.map((r) => ({
      id: r.id,
      endpointId: r.endpoint_id,
      eventId: r.event_id,
      eventType: r.event_type,
      status: r.status,
      attempts: attempts.filter((a) => a.delivery_id === r.id).map(toAttempt),
      nextAttemptAt: r.status === 'pending' ? r.next_attempt_at : null,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    }));
  }

  return {
    async create(ctx: RequestContext, organizationId: string, input: EndpointInput) {
      const eventTypes = input.eventTypes ?? ['*'];
      checkFilters(eventTypes);
      await checkUrl(input.url);
      const now = clock.now().toISOString();
      const id = newId('whe', clock.now().getTime());
      const secret = newWebhookSecret();
      const row: EndpointRow = {
        id,
        organization_id: organizationId,
        url: input.url,
        description: input.description ?? null,
        event_types: JSON.stringify(eventTypes),
        enabled: input.enabled === false ? 0 : 1,
        disabled_reason: null,
        secret: secretBox.seal(secret, secretContext(id)),
        previous_secret: null,
        previous_secret_expires_at: null,
        failing_since: null,
        created_at: now,
        updated_at: now,
      };
      await store.transaction(async (tx) => {
        await tx.webhooks.insertEndpoint(row);
        await tx.events.append([
          event(ctx, row, 'webhook.endpoint.created', { eventTypes, enabled: row.enabled === 1 }),
        ]);
      });
      return { endpoint: toEndpoint(row), secret };
    },

    async list(
      organizationId: string,
      cursor: string | undefined,
      limit: number,
    ): Promise<Page<WebhookEndpoint>> {
      let after: string | undefined;
      if (cursor !== undefined) {
        const parts = decodeCursor(cursor, 1);
        if (!parts) throw new AppError('invalid_cursor');
        after = parts[0];
      }
      const rows = await store.webhooks.listEndpoints(organizationId, after, limit + 1);
      const data = rows.slice(0, limit).map(toEndpoint);
      const last = data[data.length - 1];
      return { data, nextCursor: rows.length > limit && last ? encodeCursor([last.id]) : null };
    },

    async get(organizationId: string, id: string): Promise<WebhookEndpoint> {
      return toEndpoint(await mustGet(organizationId, id));
    },

    async update(ctx: RequestContext, organizationId: string, id: string, patch: Partial<EndpointInput>) {
      const before = await mustGet(organizationId, id);
      if (patch.eventTypes !== undefined) checkFilters(patch.eventTypes);
      if (patch.url !== undefined && patch.url !== before.url) await checkUrl(patch.url);
      const changes = Object.keys(patch).filter((k) => (patch as Record<string, unknown>)[k] !== undefined);
      const after: EndpointRow = {
        ...before,
        url: patch.url ?? before.url,
        description: patch.description !== undefined ? patch.description : before.description,
        event_types: patch.eventTypes ? JSON.stringify(patch.eventTypes) : before.event_types,
        updated_at: clock.now().toISOString(),
      };
      if (patch.enabled !== undefined) {
        after.enabled = patch.enabled ? 1 : 0;
        // Enabling again clears Latchkey's reason and the failure clock: the owner says the receiver is back.
        if (patch.enabled) {
          after.disabled_reason = null;
          after.failing_since = null;
        }
      }
      await store.transaction(async (tx) => {
        await tx.webhooks.updateEndpoint(organizationId, id, after);
        await tx.events.append([event(ctx, after, 'webhook.endpoint.updated', { changes })]);
      });
      return toEndpoint(after);
    },

    async remove(ctx: RequestContext, organizationId: string, id: string): Promise<void> {
      const row = await mustGet(organizationId, id);
      await store.transaction(async (tx) => {
        if (!(await tx.webhooks.deleteEndpoint(organizationId, id))) throw new AppError('not_found');
        await tx.events.append([event(ctx, row, 'webhook.endpoint.deleted', {})]);
      });
    },

    /**
     * A new secret, shown once. The previous one keeps signing (a second
     * signature in `webhook-signature`) until the overlap ends, so receivers
     * can switch without dropping a delivery.
     */
    async rotateSecret(
      ctx: RequestContext,
      organizationId: string,
      id: string,
      overlapMs = DEFAULT_OVERLAP_MS,
    ) {
      const before = await mustGet(organizationId, id);
      const now = clock.now();
      const secret = newWebhookSecret();
      const expires = overlapMs > 0 ? new Date(now.getTime() + overlapMs).toISOString() : null;
      const after: EndpointRow = {
        ...before,
        secret: secretBox.seal(secret, secretContext(id)),
        previous_secret: expires ? before.secret : null,
        previous_secret_expires_at: expires,
        updated_at: now.toISOString(),
      };
      await store.transaction(async (tx) => {
        await tx.webhooks.updateEndpoint(organizationId, id, after);
        await tx.events.append([
          event(ctx, after, 'webhook.endpoint.secret_rotated', { previousSecretExpiresAt: expires }),
        ]);
      });
      return { endpoint: toEndpoint(after), secret };
    },

    async deliveries(
      organizationId: string,
      filter: {
        endpointId?: string;
        eventId?: string;
        status?: DeliveryStatus;
        cursor?: string;
        limit: number;
      },
    ): Promise<Page<Delivery>> {
      if (filter.endpointId !== undefined) await mustGet(organizationId, filter.endpointId);
      let beforeSeq: number | undefined;
      if (filter.cursor !== undefined) {
        const parts = decodeCursor(filter.cursor, 1);
        if (!parts || !/^\d+$/.test(parts[0] ?? '')) throw new AppError('invalid_cursor');
        beforeSeq = Number(parts[0]);
      }
      const rows = await store.webhooks.listDeliveries(organizationId, {
        ...filter,
        beforeSeq,
        limit: filter.limit + 1,
      });
      const page = rows.slice(0, filter.limit);
      const last = page[page.length - 1];
      return {
        data: await withAttempts(page),
        nextCursor: rows.length > filter.limit && last ? encodeCursor([String(last.seq)]) : null,
      };
    },

    async delivery(organizationId: string, endpointId: string, deliveryId: string): Promise<Delivery> {
      const row = await store.webhooks.getDelivery(organizationId, deliveryId);
      if (!row || row.endpoint_id !== endpointId) throw new AppError('not_found', 'No such delivery');
      const [out] = await withAttempts([row]);
      return out as Delivery;
    },

    /** Queues one delivery again now (whatever its state), keeping its `webhook-id`. */
    async retry(organizationId: string, endpointId: string, deliveryId: string): Promise<Delivery> {
      const row = await store.webhooks.getDelivery(organizationId, deliveryId);
      if (!row || row.endpoint_id !== endpointId) throw new AppError('not_found', 'No such delivery');
      await store.webhooks.requeue(organizationId, deliveryId, clock.now().toISOString());
      return this.delivery(organizationId, endpointId, deliveryId);
    },

    /** Queues every event of [from, to) that the endpoint subscribes to (or `eventTypes`), in log order. */
    async replay(
      organizationId: string,
      endpointId: string,
      range: { from: string; to: string; eventTypes?: string[] | undefined },
    ): Promise<{ queued: number; truncated: boolean }> {
      const endpoint = await mustGet(organizationId, endpointId);
      const filters = range.eventTypes ?? (JSON.parse(endpoint.event_types) as string[]);
      checkFilters(filters);
      let queued = 0;
      let afterSeq = 0;
      const now = clock.now();
      for (;;) {
        const events = await store.outbox.eventsInRange(organizationId, range.from, range.to, afterSeq, 500);
        if (events.length === 0) return { queued, truncated: false };
        const rows: NewDelivery[] = [];
        for (const e of events) {
          if (!matchesAny(filters, e.type)) continue;
          if (queued + rows.length >= REPLAY_LIMIT) break;
          rows.push({
            id: newId('whd', now.getTime()),
            organization_id: organizationId,
            endpoint_id: endpointId,
            event_id: e.id,
            event_type: e.type,
            payload: JSON.stringify(toWebhookPayload(e)),
            created_at: now.toISOString(),
          });
        }
        await store.webhooks.insertDeliveries(rows);
        queued += rows.length;
        if (queued >= REPLAY_LIMIT) return { queued, truncated: true };
        afterSeq = events[events.length - 1]?.seq ?? afterSeq;
      }
    },

    /** Sends a `webhook.test` event now and answers with the attempt; recorded in the delivery log, not retried. */
    async testSend(ctx: RequestContext, organizationId: string, endpointId: string) {
      const endpoint = await mustGet(organizationId, endpointId);
      const now = clock.now();
      const eventId = newId('evt', now.getTime());
      const payload = JSON.stringify(
        toWebhookPayload({
          id: eventId,
          organizationId,
          type: 'webhook.test',
          time: now.toISOString(),
          actor: ctx.actor,
          target: { type: 'webhook_endpoint', id: endpoint.id },
          outcome: 'success',
          ip: ctx.ip,
          userAgent: ctx.userAgent,
          requestId: ctx.requestId,
          data: { message: 'A test event from Latchkey.' },
        }),
      );
      const row: NewDelivery = {
        id: newId('whd', now.getTime()),
        organization_id: organizationId,
        endpoint_id: endpointId,
        event_id: eventId,
        event_type: 'webhook.test',
        payload,
        created_at: now.toISOString(),
      };
      // Leased at insertion so the background dispatcher leaves it to this call.
      await store.webhooks.insertDeliveries([row], deps.dispatcher.leaseFields());
      const stored = await store.webhooks.getDelivery(organizationId, row.id);
      const result: AttemptResult = await deps.dispatcher.attemptLeased(stored as DeliveryRow);
      return { deliveryId: row.id, eventId, ...result };
    },
    /**
     * Retention: deletes finished deliveries (and their attempts) last changed more than
     * `retentionDays` ago, in transactions of 500 so neither database holds a long lock.
     * Pending deliveries are never touched. Returns how many deliveries were deleted.
     */
    async pruneDeliveries(retentionDays: number): Promise<number> {
      const before = new Date(clock.nowMs() - retentionDays * 86_400_000).toISOString();
      let total = 0;
      for (;;) {
        const n = await store.transaction((tx) => tx.webhooks.pruneFinished(before, 500));
        total += n;
        if (n < 500) return total;
      }
    },
  };
}

export type WebhookService = ReturnType<typeof createWebhookService>;
