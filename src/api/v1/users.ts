import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { requestContext } from '../../http/context.ts';
import {
  Cursor,
  IdParam,
  Limit,
  Metadata,
  NoContent,
  OrgParams,
  pageOf,
  Timestamp,
} from '../../http/schemas.ts';
import type { Services } from '../../services.ts';

export const User = Type.Object(
  {
    id: Type.String(),
    organizationId: Type.String(),
    email: Type.String(),
    name: Type.Union([Type.String(), Type.Null()]),
    status: Type.Union([Type.Literal('active'), Type.Literal('disabled')]),
    metadata: Metadata,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'User', title: 'User' },
);

export const UserParams = Type.Object(
  { org: OrgParams.properties.org, id: IdParam('usr', 'User id (`usr_…`).') },
  { additionalProperties: false },
);

const Email = Type.String({ format: 'email', maxLength: 320 });
const Name = Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()]);
const SmallMetadata = Type.Record(Type.String({ maxLength: 100 }), Type.Unknown(), { maxProperties: 50 });

export default function userRoutes(app: FastifyInstance, s: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/v1/organizations/:org/users',
    {
      config: { permission: 'users:write' },
      schema: {
        tags: ['Users'],
        summary: 'Create a user',
        description:
          'Emails are unique per organization (case-insensitive): a duplicate answers 409 `conflict`.',
        params: OrgParams,
        body: Type.Object(
          { email: Email, name: Type.Optional(Name), metadata: Type.Optional(SmallMetadata) },
          { additionalProperties: false },
        ),
        response: { 201: Type.Ref('User') },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await s.users.create(requestContext(request), request.params.org, request.body)),
  );

  r.get(
    '/v1/organizations/:org/users',
    {
      config: { permission: 'users:read' },
      schema: {
        tags: ['Users'],
        summary: 'List users',
        params: OrgParams,
        querystring: Type.Object(
          {
            email: Type.Optional(
              Type.String({ maxLength: 320, description: 'Exact email (case-insensitive).' }),
            ),
            status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])),
            cursor: Type.Optional(Cursor),
            limit: Type.Optional(Limit),
          },
          { additionalProperties: false },
        ),
        response: { 200: pageOf(Type.Ref('User')) },
      },
    },
    async (request) =>
      s.users.list(request.params.org, { ...request.query, limit: request.query.limit ?? 50 }),
  );

  r.get(
    '/v1/organizations/:org/users/:id',
    {
      config: { permission: 'users:read' },
      schema: {
        tags: ['Users'],
        summary: 'Get a user',
        params: UserParams,
        response: { 200: Type.Ref('User') },
      },
    },
    async (request) => s.users.get(request.params.org, request.params.id),
  );

  r.patch(
    '/v1/organizations/:org/users/:id',
    {
      config: { permission: 'users:write' },
      schema: {
        tags: ['Users'],
        summary: 'Update a user',
        params: UserParams,
        body: Type.Object(
          { email: Type.Optional(Email), name: Type.Optional(Name), metadata: Type.Optional(SmallMetadata) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Type.Ref('User') },
      },
    },
    async (request) =>
      s.users.update(requestContext(request), request.params.org, request.params.id, request.body),
  );

  for (const [action, status] of [
    ['disable', 'disabled'],
    ['enable', 'active'],
  ] as const) {
    r.post(
      `/v1/organizations/:org/users/:id/${action}`,
      {
        config: { permission: 'users:write' },
        schema: {
          tags: ['Users'],
          summary: action === 'disable' ? 'Disable a user' : 'Enable a user',
          params: UserParams,
          response: { 200: Type.Ref('User') },
        },
      },
      async (request) =>
        s.users.setStatus(requestContext(request), request.params.org, request.params.id, status),
    );
  }

  r.delete(
    '/v1/organizations/:org/users/:id',
    {
      config: { permission: 'users:delete' },
      schema: { tags: ['Users'], summary: 'Delete a user', params: UserParams, response: { 204: NoContent } },
    },
    async (request, reply) => {
      await s.users.delete(requestContext(request), request.params.org, request.params.id);
      return reply.code(204).send(null);
    },
  );
}
