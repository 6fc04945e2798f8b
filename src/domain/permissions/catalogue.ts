/**
 * The permission catalogue: seed 002's list plus what Latchkey adds. Served at
 * GET /v1/permissions. Custom `resource:action` permissions for an
 * organization's own APIs may be granted to keys as well (see api-keys).
 */
export interface PermissionSpec {
  name: string;
  description: string;
}

export const PERMISSIONS = [
  { name: 'users:read', description: 'Read user data' },
  { name: 'users:write', description: 'Create and update users' },
  { name: 'users:delete', description: 'Delete users' },
  { name: 'organizations:read', description: 'Read organization data' },
  { name: 'organizations:write', description: 'Update organization settings' },
  { name: 'organizations:create', description: 'Create organizations (root organization only)' },
  { name: 'roles:read', description: 'Read roles' },
  { name: 'roles:write', description: 'Manage roles and role assignments' },
  { name: 'idp:read', description: 'Read identity-provider configuration' },
  { name: 'idp:write', description: 'Manage identity providers' },
  { name: 'audit:read', description: 'Read and export audit logs' },
  { name: 'webhooks:read', description: 'Read webhook configuration and deliveries' },
  { name: 'webhooks:write', description: 'Manage webhooks' },
  { name: 'api-keys:read', description: 'List and read API keys (never their secrets)' },
  { name: 'api-keys:write', description: 'Create, update, rotate and revoke API keys' },
  { name: 'api-keys:verify', description: 'Verify keys presented to your own APIs (POST /v1/keys/verify)' },
  { name: 'events:read', description: 'Pull the event stream' },
  { name: 'clients:read', description: 'Read OAuth clients' },
  { name: 'clients:write', description: 'Manage OAuth clients' },
  { name: 'signing-keys:read', description: 'Read token signing keys (public parts)' },
  { name: 'signing-keys:write', description: 'Rotate token signing keys' },
  { name: 'sessions:read', description: "Read users' sessions" },
  { name: 'sessions:write', description: 'Terminate sessions' },
  { name: 'rules:read', description: 'Read detection rules' },
  { name: 'rules:write', description: 'Manage detection rules' },
  { name: 'alerts:read', description: 'Read alert channels and alerts' },
  { name: 'alerts:write', description: 'Manage alert channels' },
  { name: 'scim:provision', description: 'Provision users and groups through SCIM' },
] as const satisfies readonly PermissionSpec[];

export type CataloguePermission = (typeof PERMISSIONS)[number]['name'];

export const ALL_PERMISSIONS: readonly string[] = PERMISSIONS.map((p) => p.name);
const CATALOGUE = new Set<string>(ALL_PERMISSIONS);

export function isCataloguePermission(name: string): boolean {
  return CATALOGUE.has(name);
}

/** `resource:action`, lower-case letters, digits, `-`, `_` and `.`: the shape of every permission. */
export const PERMISSION_PATTERN = '^[a-z][a-z0-9._-]{0,62}:[a-z][a-z0-9._-]{0,62}$';

const readOnly = ALL_PERMISSIONS.filter((p) => p.endsWith(':read'));
const readWrite = [
  ...readOnly,
  ...ALL_PERMISSIONS.filter((p) => p.endsWith(':write') && p !== 'organizations:write'),
  'api-keys:verify',
];

/** Seed 004's scopes: read-only, read-write (plus create/update), admin (everything). */
export const SCOPE_PRESETS = {
  'read-only': readOnly,
  'read-write': readWrite,
  admin: ALL_PERMISSIONS.filter((p) => p !== 'organizations:create'),
} as const satisfies Record<string, readonly string[]>;

export type ScopePreset = keyof typeof SCOPE_PRESETS;

export interface BuiltinRole {
  key: string;
  name: string;
  description: string;
  permissions: readonly string[];
}

export const BUILTIN_ROLES: readonly BuiltinRole[] = [
  {
    key: 'owner',
    name: 'Owner',
    description: 'Every permission in the organization.',
    permissions: ALL_PERMISSIONS.filter((p) => p !== 'organizations:create'),
  },
  {
    key: 'admin',
    name: 'Admin',
    description: 'Manage users, roles, keys and integrations; cannot change organization settings.',
    permissions: ALL_PERMISSIONS.filter((p) => p !== 'organizations:create' && p !== 'organizations:write'),
  },
  {
    key: 'member',
    name: 'Member',
    description: 'Read access to the directory and verification of keys.',
    permissions: ['users:read', 'roles:read', 'organizations:read', 'api-keys:verify'],
  },
  {
    key: 'viewer',
    name: 'Viewer',
    description: 'Read-only access to everything but secrets.',
    permissions: readOnly,
  },
];
