import type { ColumnType, Generated } from 'kysely';
import type { EventsDatabase } from './schema-events.ts';
import type { OAuthDatabase } from './schema-oauth.ts';
import type { RulesTables } from './schema-rules.ts';

/**
 * Table types shared by both dialects. Portable column choices:
 * times are ISO-8601 UTC strings with milliseconds (sortable as text),
 * JSON is stored as text, booleans as 0/1 integers.
 */
export interface OrganizationsTable {
  id: string;
  name: string;
  mode: 'live' | 'test';
  is_root: number;
  settings: string;
  created_at: string;
  updated_at: string;
}

export interface UsersTable {
  id: string;
  organization_id: string;
  email: string;
  email_normalized: string;
  name: string | null;
  status: 'active' | 'disabled';
  metadata: string;
  created_at: string;
  updated_at: string;
  /** Issue 6 (0005-rules): set by automatic response; login must refuse until then. */
  locked_until?: ColumnType<string | null, string | null | undefined, string | null>;
  /** Issue 6: a break-glass account is never locked or disabled by automation. */
  break_glass?: ColumnType<number, number | undefined, number>;
}

export interface RolesTable {
  id: string;
  organization_id: string;
  key: string;
  name: string;
  description: string | null;
  permissions: string;
  builtin: number;
  created_at: string;
  updated_at: string;
}

export interface UserRolesTable {
  organization_id: string;
  user_id: string;
  role_id: string;
  created_at: string;
}

export interface ApiKeysTable {
  id: string;
  organization_id: string;
  name: string;
  description: string | null;
  prefix: string;
  key_hash: string;
  hint: string;
  permissions: string;
  scope: string | null;
  is_owner: number;
  status: 'active' | 'revoked';
  created_by_type: string;
  created_by_id: string | null;
  created_at: string;
  updated_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  revoked_by: string | null;
  revoked_reason: string | null;
  last_used_at: string | null;
  last_ip: string | null;
  request_count: number;
  /** Issue 6 (0005-rules): a honeytoken; any use of it is an alert. */
  is_decoy?: ColumnType<number, number | undefined, number>;
  // 0002-api-keys
  ip_allowlist: string;
  rate_limit: string | null;
  metadata: string;
  tier: string;
  rotated_from_id: string | null;
  rotated_to_id: string | null;
  rotated_at: string | null;
  rotation_due_at: string | null;
  leak_url: string | null;
  leak_source: string | null;
  expired_notified_at: string | null;
  rotation_due_notified_at: string | null;
}

export interface ApiKeyPoliciesTable {
  organization_id: string;
  require_expiry: number;
  max_lifetime: string | null;
  rotation_periods: string;
  updated_at: string;
}

export interface EventsTable {
  seq: Generated<number>;
  id: string;
  organization_id: string;
  type: string;
  time: string;
  actor_type: string;
  actor_id: string | null;
  actor_display: string | null;
  target_type: string | null;
  target_id: string | null;
  outcome: 'success' | 'failure';
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  data: string;
}

export interface AuditSealsTable {
  seq: Generated<number>;
  id: string;
  sealed_at: string;
  first_seq: number;
  last_seq: number;
  event_count: number;
  prev_hash: string;
  hash: string;
}

export interface AuditDigestsTable {
  event_seq: number;
  event_id: string;
  seal_id: string;
  digest: string;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface Database extends EventsDatabase, RulesTables, OAuthDatabase {
  organizations: OrganizationsTable;
  users: UsersTable;
  roles: RolesTable;
  user_roles: UserRolesTable;
  api_keys: ApiKeysTable;
  api_key_policies: ApiKeyPoliciesTable;
  events: EventsTable;
  audit_seals: AuditSealsTable;
  audit_digests: AuditDigestsTable;
  meta: MetaTable;
}
