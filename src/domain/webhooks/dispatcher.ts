import { newId } from '../../crypto/ids.ts';
import type { SecretBox } from '../../crypto/secret-box.ts';
import { OutboundError, type OutboundHttp, type OutboundResponse } from '../../net/outbound.ts';
import type { AttemptRow, DeliveryRow, EndpointRow } from '../../store/repos/webhooks.ts';
import type { Store } from '../../store/store.ts';
import { buildEvent } from '../audit/events.ts';
import type { Clock } from '../shared/clock.ts';
import { systemContext } from '../shared/types.ts';
import { DISABLE_AFTER_MS, nextDelay, parseRetryAfter } from './schedule.ts';
import { signatureHeaders } from './signing.ts';

export const DELIVERY_TIMEOUT_MS = 15_000;
/** Longer than the request timeout, so a live dispatcher never loses a lease it is still using. */
const LEASE_MS = 60_000;
const RESPONSE_KEEP = 1024;
/** Deliveries of one endpoint leased, sent and recorded together. */
const RUN_LENGTH = 50;
const RUN_BUDGET_MS = 5_000;

export interface AttemptResult {
  attempt: number;
  success: boolean;
  statusCode: number | null;
  latencyMs: number;
  responseBody: string | null;
  error: string | null;
}

export interface WebhookDispatcher {
  /** Claims due deliveries (at most `concurrency`, one per endpoint) and attempts them; returns how many. */
  runOnce(): Promise<number>;
  /** Leases up to `limit` due deliveries, each the head of its endpoint's queue. */
  claim(limit: number): Promise<DeliveryRow[]>;
  /**
   * Attempts a claimed delivery and records the outcome (undefined when its
   * lease was lost), then goes on with the endpoint's next due deliveries.
   */
  attempt(delivery: DeliveryRow): Promise<AttemptResult | undefined>;
  /** Attempts a delivery this dispatcher already holds (test-send); records the attempt. */
  attemptLeased(delivery: DeliveryRow): Promise<AttemptResult>;
  /** Leases a fresh delivery row to this dispatcher (for test-send). */
  leaseFields(): { lease_owner: string; lease_until: string };
  readonly id: string;
}

export function secretContext(endpointId: string): string {
  return `webhook-endpoint:${endpointId}`;
}

/** The secrets that sign now: the current one, and the previous one during a rotation's overlap. */
export function signingSecrets(endpoint: EndpointRow, box: SecretBox, now: Date): string[] {
  const secrets = [box.open(endpoint.secret, secretContext(endpoint.id))];
  if (
    endpoint.previous_secret &&
    endpoint.previous_secret_expires_at &&
    endpoint.previous_secret_expires_at > now.toISOString()
  ) {
    secrets.push(box.open(endpoint.previous_secret, secretContext(endpoint.id)));
  }
  return secrets;
}

export function createWebhookDispatcher(deps: {
  store: Store;
  clock: Clock;
  /** Wall time for the `webhook-timestamp` header, which receivers check against their own clock. */
  sendClock: Clock;
  outbound: OutboundHttp;
  secretBox: SecretBox;
  concurrency?: number;
  timeoutMs?: number;
  random?: () => number;
}): WebhookDispatcher {
  const { store, clock, outbound, secretBox } = deps;
  const id = newId('dsp');
  const concurrency = deps.concurrency ?? 32;
  const timeoutMs = deps.timeoutMs ?? DELIVERY_TIMEOUT_MS;

  const leaseFields = () => ({
    lease_owner: id,
    lease_until: new Date(clock.now().getTime() + LEASE_MS).toISOString(),
  });

  async function send(endpoint: EndpointRow, delivery: DeliveryRow) {
    const sentAt = deps.sendClock.now();
    const headers = {
      'content-type': 'application/json',
      ...signatureHeaders(
        signingSecrets(endpoint, secretBox, clock.now()),
        delivery.event_id,
        sentAt,
        delivery.payload,
      ),
    };
    const started = performance.now();
    try {
      const response = await outbound.request({
        url: endpoint.url,
        method: 'POST',
        headers,
        body: delivery.payload,
        timeoutMs,
      });
      return { response, error: null as string | null, latencyMs: response.latencyMs };
    } catch (error) {
      const message =
        error instanceof OutboundError
          ? `${error.code}: ${error.message}`
          : `connection_failed: ${String(error)}`;
      return {
        response: null as OutboundResponse | null,
        error: message,
        latencyMs: Math.round(performance.now() - started),
      };
    }
  }

  type Outcome = {
    attempt: AttemptRow;
    update: Pick<
      DeliveryRow,
      'id' | 'status' | 'next_attempt_at' | 'failures' | 'last_status' | 'last_error'
    >;
    disable: 'gone' | 'failing' | undefined;
    failingSince: string | null;
  };

  /** Sends one delivery and decides what happens next; writes nothing. */
  async function attemptOne(
    endpoint: EndpointRow,
    delivery: DeliveryRow,
    failingBefore: string | null,
  ): Promise<Outcome> {
    const startedAt = clock.now();
    const { response, error, latencyMs } = await send(endpoint, delivery);
    const now = clock.now();
    const status = response?.status ?? null;
    const success = status !== null && status >= 200 && status < 300;
    const isTest = delivery.event_type === 'webhook.test';
    let update: Outcome['update'];
    let disable: Outcome['disable'];
    let failingSince = failingBefore;
    if (success) {
      update = {
        id: delivery.id,
        status: 'succeeded',
        next_attempt_at: null,
        failures: 0,
        last_status: status,
        last_error: null,
      };
      if (!isTest) failingSince = null;
    } else {
      const failures = delivery.failures + 1;
      let delay = isTest || status === 410 ? undefined : nextDelay(failures, deps.random);
      if (delay !== undefined && (status === 429 || status === 503)) {
        const retryAfter = parseRetryAfter(response?.headers['retry-after'], now);
        if (retryAfter !== undefined) delay = Math.max(delay, retryAfter);
      }
      update = {
        id: delivery.id,
        status: delay === undefined ? 'failed' : 'pending',
        next_attempt_at: delay === undefined ? null : new Date(now.getTime() + delay).toISOString(),
        failures,
        last_status: status,
        last_error: error ?? `HTTP ${status}`,
      };
      if (status === 410) disable = 'gone';
      else if (!isTest) {
        failingSince ??= startedAt.toISOString();
        if (now.getTime() - new Date(failingSince).getTime() >= DISABLE_AFTER_MS) disable = 'failing';
      }
    }
    return {
      attempt: {
        id: newId('wha', now.getTime()),
        delivery_id: delivery.id,
        organization_id: delivery.organization_id,
        endpoint_id: delivery.endpoint_id,
        event_id: delivery.event_id,
        attempt: delivery.attempts + 1,
        started_at: startedAt.toISOString(),
        status_code: status,
        latency_ms: latencyMs,
        response_body: response ? response.body.slice(0, RESPONSE_KEEP) : null,
        error: success ? null : (error ?? `HTTP ${status}`),
        success: success ? 1 : 0,
        dispatcher: id,
      },
      update,
      disable,
      failingSince,
    };
  }

  function toResult(o: Outcome): AttemptResult {
    return {
      attempt: o.attempt.attempt,
      success: o.attempt.success === 1,
      statusCode: o.attempt.status_code,
      latencyMs: o.attempt.latency_ms,
      responseBody: o.attempt.response_body,
      error: o.attempt.error,
    };
  }

  /**
   * Sends a run of one endpoint's leased deliveries in order, one at a time,
   * stopping at the first that stays pending (it will be retried, and the
   * ones behind it wait for it); then records every attempt, releases the
   * leases of what was not sent and, when `chain`, leases the endpoint's next
   * run, all in one transaction. A crash before that commit re-sends the run
   * (at-least-once; receivers deduplicate on `webhook-id`).
   */
  async function attemptRun(
    run: DeliveryRow[],
    chain: boolean,
  ): Promise<{ outcomes: Outcome[]; next: DeliveryRow[] } | undefined> {
    const first = run[0];
    if (!first) return undefined;
    const endpoint = await store.webhooks.endpointById(first.endpoint_id);
    if (!endpoint) return undefined;
    if (chain && endpoint.enabled !== 1) {
      // Disabled since the claim: keep the deliveries queued for when it is enabled again.
      await store.webhooks.releaseLeases(
        run.map((d) => d.id),
        id,
      );
      return undefined;
    }
    const outcomes: Outcome[] = [];
    const started = performance.now();
    let failingSince = endpoint.failing_since;
    for (const delivery of run) {
      const o = await attemptOne(endpoint, delivery, failingSince);
      outcomes.push(o);
      failingSince = o.failingSince;
      if (o.update.status === 'pending' || o.disable) break;
      // Keep the run well inside the lease: the outcomes are recorded only at its end.
      if (performance.now() - started > RUN_BUDGET_MS) break;
    }
    const last = outcomes[outcomes.length - 1] as Outcome;
    const disable = outcomes.find((o) => o.disable)?.disable;
    const now = clock.now();
    const next = await store.transaction(async (tx) => {
      const recorded = await tx.webhooks.finishAttempts(outcomes, id, now.toISOString());
      if (recorded === 0) return [];
      await tx.webhooks.releaseLeases(
        run.slice(outcomes.length).map((d) => d.id),
        id,
      );
      if (failingSince !== endpoint.failing_since) {
        await tx.webhooks.updateEndpoint(endpoint.organization_id, endpoint.id, {
          failing_since: failingSince,
        });
      }
      if (disable && endpoint.enabled === 1) {
        await tx.webhooks.updateEndpoint(endpoint.organization_id, endpoint.id, {
          enabled: 0,
          disabled_reason: disable,
          updated_at: now.toISOString(),
        });
        await tx.events.append([
          buildEvent(clock, systemContext, {
            organizationId: endpoint.organization_id,
            type: 'webhook.endpoint.disabled',
            target: { type: 'webhook_endpoint', id: endpoint.id },
            data: { endpointId: endpoint.id, url: endpoint.url, reason: disable },
          }),
        ]);
      }
      const more = chain && !disable && last.update.status !== 'pending' && outcomes.length === run.length;
      return more
        ? tx.webhooks.claimRunOf(
            endpoint.id,
            id,
            now.toISOString(),
            new Date(now.getTime() + LEASE_MS).toISOString(),
            RUN_LENGTH,
          )
        : [];
    });
    return { outcomes, next };
  }

  /** Attempts a claimed delivery, then the endpoint's next due deliveries in runs (order kept). */
  async function attemptChain(head: DeliveryRow): Promise<AttemptResult | undefined> {
    let out = await attemptRun([head], true);
    const first = out?.outcomes[0];
    while (out && out.next.length > 0) out = await attemptRun(out.next, true);
    return first ? toResult(first) : undefined;
  }

  function claim(limit: number): Promise<DeliveryRow[]> {
    const now = clock.now();
    return store.transaction((tx) =>
      tx.webhooks.claimDue(id, now.toISOString(), new Date(now.getTime() + LEASE_MS).toISOString(), limit),
    );
  }

  return {
    id,
    leaseFields,
    claim,
    attempt: attemptChain,
    async runOnce() {
      const claimed = await claim(concurrency);
      const results = await Promise.allSettled(claimed.map((d) => attemptChain(d)));
      // A delivery whose outcome could not be recorded keeps its lease until it expires, then is retried.
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      return claimed.length;
    },
    async attemptLeased(delivery) {
      const outcome = (await attemptRun([delivery], false))?.outcomes[0];
      const result = outcome ? toResult(outcome) : undefined;
      if (!result)
        throw new Error('the delivery was not attempted: its endpoint is gone or its lease was lost');
      return result;
    },
  };
}
