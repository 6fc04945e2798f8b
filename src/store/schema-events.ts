import type { Generated } from 'kysely';

/** Tables of the event pipeline (migration 0003-events); part of `Database`. */
export interface EventOutboxTable {
  seq: Generated<number>;
  event_id: string;
}

export interface EventStreamTable {
  pos: Generated<number>;
  event_id: string;
  organization_id: string;
  type: string;
}

export interface DispatchLocksTable {
  name: string;
  holder: string | null;
  at: string | null;
}

export interface WebhookEndpointsTable {
  id: string;
  organization_id: string;
  url: string;
  description: string | null;
  event_types: string;
  enabled: number;
  disabled_reason: string | null;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: string | null;
  failing_since: string | null;
  created_at: string;
  updated_at: string;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

export interface WebhookDeliveriesTable {
  seq: Generated<number>;
  id: string;
  organization_id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  failures: number;
  next_attempt_at: string | null;
  lease_owner: string | null;
  lease_until: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

export interface WebhookAttemptsTable {
  id: string;
  delivery_id: string;
  organization_id: string;
  endpoint_id: string;
  event_id: string;
  attempt: number;
  started_at: string;
  status_code: number | null;
  latency_ms: number;
  response_body: string | null;
  error: string | null;
  success: number;
  dispatcher: string;
}

export interface EventsDatabase {
  event_outbox: EventOutboxTable;
  event_stream: EventStreamTable;
  dispatch_locks: DispatchLocksTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
}
