import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ApiKeyView } from '../../domain/api-keys/service.ts';
import { PERMISSION_PATTERN, SCOPE_PRESETS } from '../../domain/permissions/catalogue.ts';
import { DURATION_PATTERN } from '../../domain/shared/duration.ts';
import { principalOf, requestContext } from '../../http/context.ts';
import {
  Cursor,
  IdParam,
  Limit,
  NoContent,
  NullableTimestamp,
  OrgParams,
  pageOf,
  Timestamp,
} from '../../http/schemas.ts';
import type { Services } from '../../services.ts';

export const ApiKey = Type.Object(
  {
    id: Type.String({ description: 'Key id (`key_…`); not a secret.' }),
    organizationId: Type.String(),
    name: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    prefix: Type.String({ description: '`ak_live_`, `ak_test_` or `scim_`.' }),
    hint: Type.String({ description: 'Prefix, first four and last four characters, for recognising a key.' }),
    status: Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('revoked')]),
    permissions: Type.Array(Type.String()),
    scope: Type.Union([Type.String(), Type.Null()], {
      description: 'Preset the permissions came from, if any.',
    }),
    protected: Type.Boolean({ description: 'The owner key: never revoked or locked by automation.' }),
    createdBy: Type.Object({ type: Type.String(), id: Type.Union([Type.String(), Type.Null()]) }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    expiresAt: NullableTimestamp,
    revokedAt: NullableTimestamp,
    revokedBy: Type.Union([Type.String(), Type.Null()]),
    revokedReason: Type.Union([Type.String(), Type.Null()]),
    lastUsedAt: NullableTimestamp,
    lastIp: Type.Union([Type.String(), Type.Null()]),
    requestCount: Type.Integer(),
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

const KeyParams = Type.Object(
  { org: OrgParams.properties.org, id: IdParam('key', 'API key id (`key_…`).') },
  { additionalProperties: false },
);

export function apiKeyDto(v: ApiKeyView) {
  return { ...v, protected: v.isOwner };
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
          'Creates a key holding `permissions` (or a `scope` preset). The full key is in this response only. A caller cannot grant permissions it does not hold (403 `permission_escalation`).',
        params: OrgParams,
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            description: Type.Optional(Type.String({ maxLength: 1000 })),
            permissions: Type.Optional(
              Type.Array(Type.String({ pattern: PERMISSION_PATTERN }), { maxItems: 200 }),
            ),
            scope: Type.Optional(Type.Union(Object.keys(SCOPE_PRESETS).map((k) => Type.Literal(k)))),
            expiresIn: Type.Optional(
              Type.String({ pattern: DURATION_PATTERN, description: 'Lifetime such as `"90d"` or `"12h"`.' }),
            ),
            expiresAt: Type.Optional(Timestamp),
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
        {
          ...request.body,
          scope: request.body.scope as keyof typeof SCOPE_PRESETS | undefined,
        },
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
          'Never returns secrets: each key shows its hint, status, permissions and usage statistics.',
        params: OrgParams,
        querystring: Type.Object(
          {
            status: Type.Optional(
              Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('revoked')]),
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

  r.delete(
    '/v1/organizations/:org/api-keys/:id',
    {
      config: { permission: 'api-keys:write' },
      schema: {
        tags: ['API keys'],
        summary: 'Revoke an API key',
        description:
          'Immediate: the key is refused (401 `api_key_revoked`) from before this response is sent. An optional `reason` goes to the audit log.',
        params: KeyParams,
        querystring: Type.Object(
          { reason: Type.Optional(Type.String({ maxLength: 500 })) },
          { additionalProperties: false },
        ),
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      await s.apiKeys.revoke(
        requestContext(request),
        request.params.org,
        request.params.id,
        request.query.reason ?? null,
      );
      return reply.code(204).send(null);
    },
  );
}
