import { type TSchema, Type } from 'typebox';

/**
 * Every event type Latchkey emits, defined once: the schema of its `data`,
 * what it means and who emits it. `GET /v1/event-types`, `docs/events.md` and
 * the OpenAPI document's `webhooks` section are generated from this list.
 *
 * Schemas of events owned by another area are permissive
 * (`additionalProperties: true`): they name the fields a consumer can rely on
 * and let the owner add more.
 */
export interface EventTypeSpec {
  type: string;
  /** The area that emits it; docs group by it. */
  group: string;
  description: string;
  data: TSchema;
}

const Str = (description?: string) => Type.String(description ? { description } : {});
const NullableStr = (description?: string) => Type.Union([Str(description), Type.Null()]);
const StrList = (description?: string) => Type.Array(Type.String(), description ? { description } : {});
const open = (properties: Record<string, TSchema>, description?: string) =>
  Type.Object(properties, { additionalProperties: true, ...(description ? { description } : {}) });

const keyRef = { keyId: Str('API key id (`key_…`).') };
const userRef = { userId: Str('User id (`usr_…`).') };
const clientRef = { clientId: Str('OAuth client id.') };
const endpointRef = { endpointId: Str('Webhook endpoint id (`whe_…`).'), url: Str() };
const ruleRef = { ruleId: Str('Rule id.') };

function define(group: string, entries: [string, string, TSchema][]): EventTypeSpec[] {
  return entries.map(([type, description, data]) => ({ type, group, description, data }));
}

export const EVENT_TYPES: readonly EventTypeSpec[] = [
  ...define('Organizations', [
    [
      'organization.created',
      'An organization was created (by bootstrap or by the root organization).',
      open({ name: Str(), mode: Type.Union([Type.Literal('live'), Type.Literal('test')]) }),
    ],
    [
      'organization.updated',
      "An organization's name or settings changed.",
      open({
        changes: Type.Record(Type.String(), Type.Unknown(), {
          description: 'The fields set, with their new values.',
        }),
      }),
    ],
  ]),
  ...define('Users', [
    ['user.created', 'A user was created.', open({ email: Str(), name: NullableStr() })],
    [
      'user.updated',
      "A user's profile or metadata changed.",
      open({ changes: StrList('Names of the changed fields.') }),
    ],
    ['user.disabled', 'A user was disabled and can no longer sign in.', open({ email: Str() })],
    ['user.enabled', 'A disabled user was enabled again.', open({ email: Str() })],
    ['user.deleted', 'A user was deleted.', open({ email: Str() })],
    [
      'user.locked',
      'A user was locked (too many failed logins, or by a rule).',
      open({ ...userRef, until: NullableStr(), reason: Str() }),
    ],
    ['user.unlocked', 'A locked user was unlocked.', open({ ...userRef })],
    ['user.password_set', 'A user set or reset their password.', open({ ...userRef })],
    [
      'user.login.succeeded',
      'A user signed in.',
      open({ ...userRef, method: Str('password, mfa, oauth, …') }),
    ],
    [
      'user.login.failed',
      'A sign-in attempt failed.',
      open({ email: NullableStr(), reason: Str(), ip: NullableStr() }),
    ],
    [
      'user.mfa.enrolled',
      'A user enrolled an MFA factor (TOTP or WebAuthn).',
      open({ ...userRef, factor: Str() }),
    ],
    ['user.mfa.removed', 'A user removed an MFA factor.', open({ ...userRef, factor: Str() })],
    ['user.mfa.succeeded', 'An MFA challenge was passed.', open({ ...userRef, factor: Str() })],
    ['user.mfa.failed', 'An MFA challenge failed.', open({ ...userRef, factor: Str() })],
  ]),
  ...define('Roles', [
    ['role.created', 'A custom role was created.', open({ key: Str(), permissions: StrList() })],
    [
      'role.updated',
      "A role's permissions changed.",
      open({ key: Str(), added: StrList(), removed: StrList() }),
    ],
    ['role.deleted', 'A custom role was deleted.', open({ key: Str() })],
    ['role.assigned', 'A role was assigned to a user.', open({ roleId: Str(), roleKey: Str(), ...userRef })],
    ['role.unassigned', 'A role was taken from a user.', open({ roleId: Str(), roleKey: Str(), ...userRef })],
  ]),
  ...define('API keys', [
    [
      'api_key.created',
      'An API key was created (its secret is never in an event).',
      open({
        ...keyRef,
        name: Str(),
        hint: Str(),
        scope: NullableStr(),
        permissions: StrList(),
        expiresAt: NullableStr(),
        ipAllowlist: StrList(),
        rateLimit: Type.Union([Type.Object({ limit: Type.Integer(), window: Str() }), Type.Null()]),
        createdBy: NullableStr(),
        rotatedFrom: Type.Optional(Str('Set when the key was made by rotating this key.')),
      }),
    ],
    [
      'api_key.updated',
      "An API key's name, description, permissions, allowlist, rate limit or metadata changed.",
      open({
        ...keyRef,
        name: Str(),
        changes: Type.Record(Type.String(), Type.Unknown(), {
          description: 'The new value of each changed field.',
        }),
        permissionsBefore: Type.Optional(StrList()),
      }),
    ],
    [
      'api_key.rotated',
      'An API key was rotated: a new secret, the old one valid for an overlap (grace period).',
      open({
        ...keyRef,
        name: Str(),
        newKeyId: Str(),
        overlapSeconds: Type.Number(),
        graceUntil: NullableStr('When the old key stops working.'),
      }),
    ],
    [
      'api_key.revoked',
      'An API key was revoked; it stopped working before the call returned.',
      open({
        ...keyRef,
        name: Str(),
        hint: Str(),
        revokedBy: NullableStr(),
        revokedById: NullableStr(),
        reason: NullableStr(),
      }),
    ],
    [
      'api_key.expired',
      'An API key reached its expiry time (written once per key by the background sweep).',
      open({ ...keyRef, name: Str(), hint: Str(), expiresAt: NullableStr() }),
    ],
    [
      'api_key.rotation_due',
      "An API key is past the rotation period of the organization's key policy (written once per key).",
      open({
        ...keyRef,
        name: Str(),
        hint: Str(),
        tier: Str('admin, read-write or read-only.'),
        createdAt: Str(),
        rotationDueAt: NullableStr(),
      }),
    ],
    [
      'api_key.leaked',
      'An API key was reported as leaked by a secret scanner; a live key is revoked at once (the owner key is not).',
      open({
        ...keyRef,
        name: Str(),
        hint: Str(),
        url: NullableStr(),
        source: NullableStr(),
        tokenType: Str(),
        revoked: Type.Boolean(),
      }),
    ],
    [
      'api_key.used',
      'An API key authenticated requests: one event per key, endpoint and address per batch interval, with a count.',
      open({
        ...keyRef,
        name: Str(),
        endpoint: NullableStr(),
        ip: NullableStr(),
        count: Type.Integer(),
        firstAt: Str(),
        lastAt: Str(),
      }),
    ],
    [
      'api_key.ip_denied',
      'An API key was used from outside its IP allowlist (the request answered 403 ip_not_allowed).',
      open({ ...keyRef, name: Str(), keyHint: NullableStr(), endpoint: NullableStr(), ip: NullableStr() }),
    ],
    [
      'api_key.rate_limited',
      'An API key exceeded its rate limit: one event per key, endpoint and address per batch interval, with a count.',
      open({
        ...keyRef,
        name: Str(),
        endpoint: NullableStr(),
        ip: NullableStr(),
        count: Type.Integer(),
        firstAt: Str(),
        lastAt: Str(),
      }),
    ],
    [
      'api_key_policy.updated',
      "An organization's API-key policy changed (required expiry, maximum lifetime, rotation periods).",
      open({ before: Type.Unknown(), after: Type.Unknown() }),
    ],
  ]),
  ...define('Authentication', [
    [
      'auth.failed',
      'A credential was refused (malformed, unknown, revoked or expired). `organizationId` is `-` when the key is unknown.',
      open({ reason: Str(), keyHint: NullableStr(), endpoint: NullableStr(), ip: NullableStr() }),
    ],
    [
      'api_key.verification_failed',
      "A key presented to one of the organization's own APIs failed `POST /v1/keys/verify`: `code` is the verification code (NOT_FOUND, REVOKED, EXPIRED, IP_NOT_ALLOWED, RATE_LIMITED, INSUFFICIENT_PERMISSIONS); `keyId` is null when no key of this organization matched.",
      open({
        keyId: NullableStr(),
        code: Str(),
        keyHint: NullableStr(),
        ip: NullableStr(),
      }),
    ],
  ]),
  ...define('Sessions', [
    ['session.created', 'A user session was started.', open({ sessionId: Str(), ...userRef })],
    [
      'session.revoked',
      'A session was terminated (sign-out, admin, or a rule).',
      open({ sessionId: Str(), ...userRef }),
    ],
  ]),
  ...define('OAuth clients and signing keys', [
    ['client.created', 'An OAuth client was registered.', open({ ...clientRef, name: Str() })],
    ['client.updated', "An OAuth client's settings changed.", open({ ...clientRef })],
    ['client.deleted', 'An OAuth client was deleted.', open({ ...clientRef })],
    ['client.secret_rotated', "An OAuth client's secret was rotated.", open({ ...clientRef })],
    [
      'signing_key.rotated',
      'The token signing key was rotated.',
      open({ kid: Str('Key id of the new key.') }),
    ],
  ]),
  ...define('Webhooks', [
    [
      'webhook.endpoint.created',
      'A webhook endpoint was created.',
      Type.Object(
        { ...endpointRef, eventTypes: StrList(), enabled: Type.Boolean() },
        { additionalProperties: false },
      ),
    ],
    [
      'webhook.endpoint.updated',
      'A webhook endpoint was changed.',
      Type.Object(
        { ...endpointRef, changes: StrList('Names of the changed fields.') },
        { additionalProperties: false },
      ),
    ],
    [
      'webhook.endpoint.deleted',
      'A webhook endpoint was deleted.',
      Type.Object({ ...endpointRef }, { additionalProperties: false }),
    ],
    [
      'webhook.endpoint.disabled',
      'Latchkey disabled an endpoint: it answered 410 Gone, or every delivery failed for 5 days.',
      Type.Object(
        { ...endpointRef, reason: Type.Union([Type.Literal('gone'), Type.Literal('failing')]) },
        { additionalProperties: false },
      ),
    ],
    [
      'webhook.endpoint.secret_rotated',
      "A webhook endpoint's signing secret was rotated; the previous one still signs until `previousSecretExpiresAt`.",
      Type.Object(
        { ...endpointRef, previousSecretExpiresAt: NullableStr() },
        { additionalProperties: false },
      ),
    ],
    [
      'webhook.test',
      'Sent by the test-send endpoint only, to check a receiver; never stored in the audit log.',
      Type.Object({ message: Str() }, { additionalProperties: false }),
    ],
  ]),
  ...define('Rules and alerts', [
    ['rule.created', 'A detection rule was created.', open({ ...ruleRef, name: Str() })],
    [
      'rule.updated',
      'A detection rule was changed (a new version).',
      open({ ...ruleRef, version: Type.Integer() }),
    ],
    ['rule.deleted', 'A detection rule was deleted.', open({ ...ruleRef })],
    [
      'rule.triggered',
      'A rule fired: the events that made it fire and what it did.',
      open({ ...ruleRef, version: Type.Integer(), eventIds: StrList(), actions: Type.Array(Type.Unknown()) }),
    ],
    [
      'alert.sent',
      'An alert (or a test alert) was delivered to a channel.',
      open({
        channelId: Str(),
        channelType: Str(),
        subject: Str(),
        dedupKey: Str(),
        ruleId: Type.Optional(Str()),
      }),
    ],
    [
      'alert.failed',
      'An alert could not be delivered to a channel.',
      open({ channelId: Str(), channelType: Str(), error: Str(), ruleId: Type.Optional(Str()) }),
    ],
    ['alert_channel.created', 'An alert channel was created.', open({ name: Str(), type: Str() })],
    [
      'alert_channel.updated',
      'An alert channel was changed (secret values are never in the event).',
      open({ changes: StrList(), settings: StrList('Names of the settings that changed.') }),
    ],
    ['alert_channel.deleted', 'An alert channel was deleted.', open({ name: Str(), type: Str() })],
    [
      'rule.action.skipped',
      'A rule did not act on a protected principal (the owner key, a break-glass user) and alerted instead.',
      open({ ...ruleRef, firingId: Str(), skipped: Type.Array(Type.Unknown()) }),
    ],
    [
      'rule.webhook.sent',
      "A rule's webhook action delivered the firing to a webhook channel.",
      open({ channelId: Str(), eventType: Str() }),
    ],
    [
      'rule.webhook.failed',
      "A rule's webhook action could not deliver the firing.",
      open({ channelId: Str(), eventType: Str(), error: Str() }),
    ],
    [
      'ip.blocked',
      'An IP address (or range) was blocked for a duration, by a rule or an administrator.',
      open({ ip: Str(), range: Str(), until: NullableStr(), blockId: Str(), global: Type.Boolean() }),
    ],
    ['ip.unblocked', 'An IP block was lifted before it ended.', open({ blockId: Str() })],
    [
      'user.sessions.terminated',
      "A rule ended a user's sessions (count 0 until a session store exists).",
      open({ ...userRef, count: Type.Integer() }),
    ],
    [
      'api_key.never_used',
      'Scheduled check: an active key was never used in the days after its creation.',
      open({ ...keyRef, finding: Str(), detail: Str(), ...ruleRef }),
    ],
    [
      'api_key.unused',
      'Scheduled check: an active key has not been used for the configured number of days.',
      open({ ...keyRef, finding: Str(), detail: Str(), ...ruleRef }),
    ],
    [
      'api_key.rotation_overdue',
      'Scheduled check: a key is older than the rotation period of its scope (seed 004).',
      open({ ...keyRef, finding: Str(), detail: Str(), ...ruleRef }),
    ],
    [
      'detection.settings.updated',
      "An organization's detection settings (time zone, business hours) changed.",
      open({ timezone: Str() }),
    ],
  ]),
];

const BY_TYPE = new Map(EVENT_TYPES.map((e) => [e.type, e]));

export function eventTypeSpec(type: string): EventTypeSpec | undefined {
  return BY_TYPE.get(type);
}

/**
 * A subscription filter: `*` (everything), an exact type, or a prefix
 * wildcard ending in `.*` (`api_key.*` matches `api_key.created` and
 * `user.*` matches `user.login.failed`).
 */
export function matchesFilter(filter: string, type: string): boolean {
  if (filter === '*') return true;
  if (filter.endsWith('.*')) return type.startsWith(filter.slice(0, -1));
  return filter === type;
}

export function matchesAny(filters: readonly string[], type: string): boolean {
  return filters.some((f) => matchesFilter(f, type));
}

/** The catalogue types a filter selects; a filter that selects none is a mistake worth refusing. */
export function typesMatching(filter: string): string[] {
  return EVENT_TYPES.filter((e) => matchesFilter(filter, e.type)).map((e) => e.type);
}
