import { type TSchema, Type } from 'typebox';
import type { StoredEvent } from '../store/repos/events.ts';

/**
 * The body of a webhook: Standard Webhooks' `{type, timestamp, data}` plus
 * the event id, the organization and who did what to what. The same bytes
 * are sent on every attempt, so a receiver may hash them.
 */
export interface WebhookPayload {
  id: string;
  type: string;
  timestamp: string;
  organizationId: string;
  actor: StoredEvent['actor'];
  target: StoredEvent['target'];
  outcome: StoredEvent['outcome'];
  data: Record<string, unknown>;
}

export function toWebhookPayload(e: Omit<StoredEvent, 'seq'>): WebhookPayload {
  return {
    id: e.id,
    type: e.type,
    timestamp: e.time,
    organizationId: e.organizationId,
    actor: e.actor,
    target: e.target,
    outcome: e.outcome,
    data: e.data,
  };
}

/** The JSON schema of a webhook body whose `data` is `data`. */
export function webhookPayloadSchema(type: string, data: TSchema): TSchema {
  return Type.Object(
    {
      id: Type.String({ description: 'Event id (`evt_…`); also sent as the `webhook-id` header.' }),
      type: Type.Literal(type),
      timestamp: Type.String({ format: 'date-time', description: 'When the event happened.' }),
      organizationId: Type.String(),
      actor: Type.Object({
        type: Type.String(),
        id: Type.Union([Type.String(), Type.Null()]),
        display: Type.Union([Type.String(), Type.Null()]),
      }),
      target: Type.Union([Type.Object({ type: Type.String(), id: Type.String() }), Type.Null()]),
      outcome: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
      data,
    },
    { additionalProperties: false },
  );
}
