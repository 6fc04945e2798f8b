import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { ApiKeyView } from '../../domain/api-keys/service.ts';
import { PERMISSION_PATTERN, SCOPE_PRESETS, type ScopePreset } from '../../domain/permissions/catalogue.ts';
import { DURATION_PATTERN } from '../../domain/shared/duration.ts';
import { principalOf, requestContext } from '../../http/context.ts';
import {
  Cursor,
  IdParam,
  Limit,
  Metadata,
  NoContent,
  NullableTimestamp,
  OrgParams,
  pageOf,
  Timestamp,
} from '../../http/schemas.ts';
import type { Services } from '../../services.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const RateLimit = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Requests allowed per window.' }),
    window: Type.String({
      pattern: DURATION_PATTERN,
      description: 'Window length such as `"1s"`, `"1m"`, `"1h"` (at least one second).',
    }),
  },
  { additionalProperties: false },
);

export const ApiKey = Type.Object(
  {
    id: Type.String({ description: 'Key id (`key_…`); not a secret.' }),
    organizationId: Type.String(),
    name: Type.String(),
    description: Nullable(Type.String()),
    prefix: Type.String({ description: '`ak_live_`, `ak_test_` or `scim_`.' }),
    hint: Type.String({ description: 'Prefix, first four and last four characters, for recognising a key.' }),
    status: Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('revoked')]),
    permissions: Type.Array(Type.String()),
    scope: Nullable(Type.String({ description: 'Preset the permissions came from, if any.' })),
    tier: Type.String({
      description:
        'Risk tier that picks the rotation period: `admin`, `read-write` or `read-only` (the preset, or the narrowest preset covering the permissions).',
    }),
    protected: Type.Boolean({ description: 'The owner key: never revoked or locked by automation.' }),
    createdBy: Type.Object({ type: Type.String(), id: Nullable(Type.String()) }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    expiresAt: NullableTimestamp,
    revokedAt: NullableTimestamp,
    revokedBy: Nullable(Type.String()),
    revokedReason: Nullable(Type.String()),
    leak: Nullable(
      Type.Object(
        { url: Nullable(Type.String()), source: Nullable(Type.String()) },
        { description: 'Where a secret-scanning report found this key.' },
      ),
    ),
    ipAllowlist: Type.Array(Type.String(), {
      description: 'IPv4/IPv6 addresses and CIDR ranges; empty: any.',
    }),
    rateLimit: Nullable(RateLimit),
    metadata: Metadata,
    lastUsedAt: NullableTimestamp,
    lastIp: Nullable(Type.String()),
    requestCount: Type.Integer(),
    rotationDueAt: Nullable(Timestamp),
    rotationDue: Type.Boolean({
      description: "Live, not rotated, and past the rotation period of the organization's key policy.",
    }),
    rotatedFromId: Nullable(Type.String({ description: 'The key this one replaced.' })),
    rotatedToId: Nullable(Type.String({ description: 'The key that replaces this one.' })),
    rotatedAt: NullableTimestamp,
    usedSinceRotation: Nullable(
      Type.Boolean({
        description:
          'For either key of a rotation: whether it was used after the rotation, so you can tell which of the two is still in use.',
      }),
    ),
  },
  { $id: 'ApiKey', title: 'ApiKey' },
);

const CreatedApiKey = Type.Object(
  {
    ...ApiKey.properties,
    key: Type.String({ description: 'The full secret. Shown in this response only; store it now.' }),
  },
  { title: 'CreatedApiKey' },
);

const RotatedApiKey = Type.Object(
  {
    ...CreatedApiKey.properties,
    previous: Type.Ref('ApiKey', { description: 'The old key, now expiring at the end of the overlap.' }),
  },
  { title: 'RotatedApiKey' },
);

const KeyParams = Type.Object(
  { org: OrgParams.properties.org, id: IdParam('key', 'API key id (`key_…`).') },
  { additionalProperties: false },
);

const Scope = Type.Union(
  Object.keys(SCOPE_PRESETS).map((k) => Type.Literal(k)),
  { description: 'Preset: `read-only`, `read-write` or `admin` (seed 004).' },
);
const Permissions = Type.Array(Type.String({ pattern: PERMISSION_PATTERN }), {
  maxItems: 200,
  description: 'Catalogue permissions, or custom `resource:action` permissions for your own APIs.',
});
const IpAllowlist = Type.Array(Type.String({ maxLength: 64 }), {
  maxItems: 100,
  description: 'IPv4/IPv6 addresses or CIDR ranges the key may be used from.',
});
const Reason = Type.String({ maxLength: 500 });

/** The body of these routes is optional: none at all reads as `{}`. */
async function optionalBody(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
}

export function apiKeyDto(v: ApiKeyView) {
  return {
    ...v,
    protected: v.isOwner,
    leak: v.leakUrl !== null || v.leakSource !== null ? { url: v.leakUrl, source: v.leakSource } : null,
  };
}

export default function apiKeyRoutes(app: FastifyInstance, s: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/v1/organizations/:org/api-keys',
    {
      config: { permission: 'api-keys:write' },
      schema: {
        tags: ['API keys'],
        summary: 'Create an API key',
        description:
          'Creates a key holding `permissions` (or a `scope` preset), with an optional expiry (`expiresIn` or `expiresAt`), IP allowlist, rate limit and metadata. `type: "scim"` makes a `scim_` key that reaches SCIM endpoints only. The full key is in this response only. A caller cannot grant permissions it does not hold (403 `permission_escalation`); the organization\'s key policy may require an expiry (422 `api_key_policy_violation`).',
        params: OrgParams,
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            description: Type.Optional(Type.String({ maxLength: 1000 })),
            type: Type.Optional(
              Type.Union([Type.Literal('api'), Type.Literal('scim')], {
                description:
                  '`api` (default): `ak_live_`/`ak_test_`; `scim`: a `scim_` key for SCIM provisioning only.',
              }),
            ),
            permissions: Type.Optional(Permissions),
            scope: Type.Optional(Scope),
            expiresIn: Type.Optional(
              Type.String({ pattern: DURATION_PATTERN, description: 'Lifetime such as `"90d"` or `"12h"`.' }),
            ),
            expiresAt: Type.Optional(Timestamp),
            ipAllowlist: Type.Optional(IpAllowlist),
            rateLimit: Type.Optional(RateLimit),
            metadata: Type.Optional(Metadata),
          },
          { additionalProperties: false },
        ),
        response: { 201: CreatedApiKey },
      },
    },
    async (request, reply) => {
      const { view, key } = await s.apiKeys.create(
        principalOf(request),
        requestContext(request),
        request.params.org,
        { ...request.body, scope: request.body.scope as ScopePreset | undefined },
      );
      return reply.code(201).send({ ...apiKeyDto(view), key });
    },
  );

  r.get(
    '/v1/organizations/:org/api-keys',
    {
      config: { permission: 'api-keys:read' },
      schema: {
        tags: ['API keys'],
        summary: 'List API keys',
        description:
          'Never returns secrets: each key shows its hint, status, permissions, creator, usage statistics (`lastUsedAt`, `requestCount`, `lastIp`), rotation state and whether its rotation is due.',
        params: OrgParams,
        querystring: Type.Object(
          {
            status: Type.Optional(
              Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('revoked')]),
            ),
            unusedForDays: Type.Optional(
              Type.Integer({
                minimum: 0,
                maximum: 36500,
                description:
                  'Only keys not used in this many days (never-used keys older than that included).',
              }),
            ),
            rotationDue: Type.Optional(
              Type.Boolean({ description: 'true: only keys whose rotation is due; false: only the others.' }),
            ),
            cursor: Type.Optional(Cursor),
            limit: Type.Optional(Limit),
          },
          { additionalProperties: false },
        ),
        response: { 200: pageOf(Type.Ref('ApiKey')) },
      },
    },
    async (request) => {
      const page = await s.apiKeys.list(request.params.org, {
        status: request.query.status,
        unusedForDays: request.query.unusedForDays,
        rotationDue: request.query.rotationDue,
        cursor: request.query.cursor,
        limit: request.query.limit ?? 50,
      });
      return { data: page.data.map(apiKeyDto), nextCursor: page.nextCursor };
    },
  );

  r.get(
    '/v1/organizations/:org/api-keys/:id',
    {
      config: { permission: 'api-keys:read' },
      schema: {
        tags: ['API keys'],
        summary: 'Get an API key',
        params: KeyParams,
        response: { 200: Type.Ref('ApiKey') },
      },
    },
    async (request) => apiKeyDto(await s.apiKeys.get(request.params.org, request.params.id)),
  );

  r.patch(
    '/v1/organizations/:org/api-keys/:id',
    {
      config: { permission: 'api-keys:write' },
      schema: {
        tags: ['API keys'],
        summary: 'Update an API key',
        description:
          "Changes name, description, IP allowlist, rate limit (null removes it), metadata, or permissions (or a `scope` preset). Permissions may shrink freely and grow only within the caller's own (403 `permission_escalation`). Takes effect on the next request, cached keys included.",
        params: KeyParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            description: Type.Optional(Nullable(Type.String({ maxLength: 1000 }))),
            permissions: Type.Optional(Permissions),
            scope: Type.Optional(Scope),
            ipAllowlist: Type.Optional(IpAllowlist),
            rateLimit: Type.Optional(Nullable(RateLimit)),
            metadata: Type.Optional(Metadata),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Type.Ref('ApiKey') },
      },
    },
    async (request) =>
      apiKeyDto(
        await s.apiKeys.update(
          principalOf(request),
          requestContext(request),
          request.params.org,
          request.params.id,
          {
            ...request.body,
            scope: request.body.scope as ScopePreset | undefined,
          },
        ),
      ),
  );

  r.post(
    '/v1/organizations/:org/api-keys/:id/rotate',
    {
      config: { permission: 'api-keys:write' },
      preValidation: optionalBody,
      schema: {
        tags: ['API keys'],
        summary: 'Rotate an API key',
        description:
          'Creates a new key with the same name, permissions, allowlist, rate limit and metadata, linked to the old one. The old key keeps working for `overlap` (default `"24h"`; `"0"` ends it at once) and then expires. The new key keeps the old lifetime unless `expiresIn`/`expiresAt` is given. The new secret is in this response only.',
        params: KeyParams,
        body: Type.Object(
          {
            overlap: Type.Optional(
              Type.String({
                pattern: '^(0|[0-9]{1,6}[smhdw])$',
                description: 'How long the old key keeps working: `"24h"` (default), `"1h"`, `"0"`.',
              }),
            ),
            expiresIn: Type.Optional(Type.String({ pattern: DURATION_PATTERN })),
            expiresAt: Type.Optional(Timestamp),
          },
          { additionalProperties: false },
        ),
        response: { 201: RotatedApiKey },
      },
    },
    async (request, reply) => {
      const result = await s.apiKeys.rotate(
        principalOf(request),
        requestContext(request),
        request.params.org,
        request.params.id,
        request.body,
      );
      return reply
        .code(201)
        .send({ ...apiKeyDto(result.view), key: result.key, previous: apiKeyDto(result.previous) });
    },
  );

  r.delete(
    '/v1/organizations/:org/api-keys/:id',
    {
      config: { permission: 'api-keys:write' },
      preValidation: optionalBody,
      schema: {
        tags: ['API keys'],
        summary: 'Revoke an API key',
        description:
          'Immediate: the key is refused (401 `api_key_revoked`) from before this response is sent, on every cached copy too. An optional `reason` (JSON body or query string; the body wins) goes to the audit log with the key name and who revoked it.',
        params: KeyParams,
        querystring: Type.Object({ reason: Type.Optional(Reason) }, { additionalProperties: false }),
        body: Type.Object({ reason: Type.Optional(Reason) }, { additionalProperties: false }),
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      await s.apiKeys.revoke(
        requestContext(request),
        request.params.org,
        request.params.id,
        request.body.reason ?? request.query.reason ?? null,
      );
      return reply.code(204).send(null);
    },
  );
}
