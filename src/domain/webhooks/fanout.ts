import { newId } from '../../crypto/ids.ts';
import { matchesAny } from '../../events/catalogue.ts';
import { toWebhookPayload } from '../../events/payload.ts';
import type { EventSubscriber } from '../../events/pipeline.ts';
import type { NewDelivery } from '../../store/repos/webhooks.ts';
import type { Clock } from '../shared/clock.ts';

/**
 * The webhook consumer of the event pipeline: for each committed event, one
 * delivery per enabled endpoint of its organization whose filters match,
 * written in the fan-out transaction (so an event is queued for an endpoint
 * exactly once, and in commit order).
 */
export function webhookFanOut(deps: { clock: Clock }): EventSubscriber {
  return {
    name: 'webhooks',
    types: ['*'],
    async handle(events, tx) {
      const orgs = [...new Set(events.map((e) => e.organizationId))];
      const endpoints = await tx.webhooks.enabledEndpoints(orgs);
      if (endpoints.length === 0) return;
      const filters = new Map(endpoints.map((ep) => [ep.id, JSON.parse(ep.event_types) as string[]]));
      const now = deps.clock.now();
      const rows: NewDelivery[] = [];
      for (const event of events) {
        let payload: string | undefined;
        for (const ep of endpoints) {
          if (
            ep.organization_id !== event.organizationId ||
            !matchesAny(filters.get(ep.id) ?? [], event.type)
          )
            continue;
          payload ??= JSON.stringify(toWebhookPayload(event));
          rows.push({
            id: newId('whd', now.getTime()),
            organization_id: event.organizationId,
            endpoint_id: ep.id,
            event_id: event.id,
            event_type: event.type,
            payload,
            created_at: now.toISOString(),
          });
        }
      }
      await tx.webhooks.insertDeliveries(rows);
    },
  };
}
