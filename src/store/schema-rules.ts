/** Tables of issue 6 (rules, alerts, automatic response); migration 0005-rules. */
export interface RulesTable {
  id: string;
  organization_id: string;
  name: string;
  enabled: number;
  mode: 'enforce' | 'monitor';
  version: number;
  template: string | null;
  definition: string;
  created_at: string;
  updated_at: string;
}

export interface RuleVersionsTable {
  rule_id: string;
  version: number;
  organization_id: string;
  snapshot: string;
  created_at: string;
  actor_type: string;
  actor_id: string | null;
}

export interface RuleFiringsTable {
  id: string;
  organization_id: string;
  rule_id: string;
  rule_version: number;
  group_key: string;
  fired_at: string;
  event_ids: string;
  status: 'pending' | 'done';
  actions_taken: number;
  results: string;
}

export interface RuleCursorsTable {
  name: string;
  seq: number;
  updated_at: string;
}

export interface AlertChannelsTable {
  id: string;
  organization_id: string;
  name: string;
  type: string;
  enabled: number;
  config: string;
  secrets: string;
  created_at: string;
  updated_at: string;
}

export interface AlertThrottleTable {
  rule_id: string;
  group_key: string;
  channel_id: string;
  last_sent_at: string;
  suppressed: number;
}

export interface IpBlocksTable {
  id: string;
  organization_id: string;
  range: string;
  global: number;
  until: string;
  reason: string | null;
  rule_id: string | null;
  created_at: string;
}

export interface DetectionSettingsTable {
  organization_id: string;
  settings: string;
  updated_at: string;
}

export interface RulesTables {
  rules: RulesTable;
  rule_versions: RuleVersionsTable;
  rule_firings: RuleFiringsTable;
  rule_cursors: RuleCursorsTable;
  alert_channels: AlertChannelsTable;
  alert_throttle: AlertThrottleTable;
  ip_blocks: IpBlocksTable;
  detection_settings: DetectionSettingsTable;
}
