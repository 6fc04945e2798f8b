import type { EventRecord, StoredEvent } from '../../store/repos/events.ts';

export type RuleMode = 'enforce' | 'monitor';
export type Severity = 'info' | 'warning' | 'error' | 'critical';

/** `count` events (or `distinct` values of a field) within `window`, per group. */
export interface Threshold {
  count: number;
  window: string;
  groupBy?: string[] | undefined;
  /** Count distinct values of this field instead of events (credential stuffing: distinct accounts). */
  distinct?: string | undefined;
  /**
   * Fire only when the window's count is also `factor` times the group's own
   * average per window over `history` (volume far above its baseline).
   */
  baseline?: { factor: number; history: string } | undefined;
}

/** Fire when `field` takes a value not seen for the same group within `lookback` (a new IP for a key). */
export interface NewValue {
  field: string;
  groupBy: string[];
  lookback: string;
}

export interface ScheduledCheck {
  kind: 'key-never-used' | 'key-unused' | 'key-rotation';
  /** key-never-used: days after creation; key-unused: days since last use. */
  days?: number | undefined;
  /** key-rotation: maximum age per scope preset (seed 004: admin 30d, read-write 60d, read-only 90d). */
  maxAge?: Record<string, string> | undefined;
}

export type RuleAction =
  | { type: 'alert'; channels: string[]; message?: string | undefined; throttle?: string | undefined }
  | { type: 'revoke_api_key'; target?: string | undefined }
  | { type: 'disable_user'; target?: string | undefined }
  | { type: 'lock_user'; duration: string; target?: string | undefined }
  | { type: 'terminate_sessions'; target?: string | undefined }
  | { type: 'block_ip'; duration: string; target?: string | undefined }
  /** Posts the firing as a signed `rule.triggered` to a webhook alert channel (its secret stays encrypted). */
  | { type: 'webhook'; channel: string }
  | { type: 'emit'; eventType?: string | undefined };

export interface RuleDefinition {
  name: string;
  description: string | null;
  enabled: boolean;
  mode: RuleMode;
  severity: Severity;
  on: string[];
  condition: string | null;
  threshold: Threshold | null;
  newValue: NewValue | null;
  schedule: string | null;
  check: ScheduledCheck | null;
  cooldown: string | null;
  maxActionsPerHour: number;
  actions: RuleAction[];
}

export interface Rule extends RuleDefinition {
  id: string;
  organizationId: string;
  version: number;
  template: string | null;
  createdAt: string;
  updatedAt: string;
}

/** One decision of the engine: this rule fired for this group because of these events. */
export interface Firing {
  rule: Rule;
  groupKey: string;
  group: Record<string, unknown>;
  count: number;
  eventIds: string[];
  /** The event that completed the match; its fields fill targets and message templates. */
  event: StoredEvent;
  at: string;
  /** Overrides what identifies the firing (default: the event that completed the match). */
  dedupKey?: string | undefined;
  /** Events to commit with the firing's claim (a scheduled check's finding), so they exist once. */
  evidence?: EventRecord[] | undefined;
}
