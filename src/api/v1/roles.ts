import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { PERMISSION_PATTERN } from '../../domain/permissions/catalogue.ts';
import { principalOf, requestContext } from '../../http/context.ts';
import { IdParam, NoContent, OrgParams, Timestamp } from '../../http/schemas.ts';
import type { Services } from '../../services.ts';
import { UserParams } from './users.ts';

export const Role = Type.Object(
  {
    id: Type.String(),
    organizationId: Type.String(),
    key: Type.String(),
    name: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    permissions: Type.Array(Type.String()),
    builtin: Type.Boolean({
      description: 'owner, admin, member and viewer are built in and cannot be changed.',
    }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'Role', title: 'Role' },
);

const RoleParams = Type.Object(
  { org: OrgParams.properties.org, id: IdParam('rol', 'Role id (`rol_…`).') },
  { additionalProperties: false },
);
const AssignmentParams = Type.Object(
  {
    org: OrgParams.properties.org,
    id: UserParams.properties.id,
    roleId: IdParam('rol', 'Role id (`rol_…`).'),
  },
  { additionalProperties: false },
);
const Permissions = Type.Array(Type.String({ pattern: PERMISSION_PATTERN }), { maxItems: 200 });

export default function roleRoutes(app: FastifyInstance, s: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['Roles'];

  r.get(
    '/v1/organizations/:org/roles',
    {
      config: { permission: 'roles:read' },
      schema: {
        tags,
        summary: 'List roles',
        params: OrgParams,
        response: { 200: Type.Object({ data: Type.Array(Type.Ref('Role')) }) },
      },
    },
    async (request) => ({ data: await s.roles.list(request.params.org) }),
  );

  r.post(
    '/v1/organizations/:org/roles',
    {
      config: { permission: 'roles:write' },
      schema: {
        tags,
        summary: 'Create a custom role',
        description: 'A role may only contain permissions the caller holds (403 `permission_escalation`).',
        params: OrgParams,
        body: Type.Object(
          {
            key: Type.String({
              pattern: '^[a-z][a-z0-9-]{1,62}$',
              description: 'Stable identifier, unique in the organization.',
            }),
            name: Type.String({ minLength: 1, maxLength: 200 }),
            description: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Null()])),
            permissions: Permissions,
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Ref('Role') },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(
          await s.roles.create(
            principalOf(request),
            requestContext(request),
            request.params.org,
            request.body,
          ),
        ),
  );

  r.get(
    '/v1/organizations/:org/roles/:id',
    {
      config: { permission: 'roles:read' },
      schema: { tags, summary: 'Get a role', params: RoleParams, response: { 200: Type.Ref('Role') } },
    },
    async (request) => s.roles.get(request.params.org, request.params.id),
  );

  r.patch(
    '/v1/organizations/:org/roles/:id',
    {
      config: { permission: 'roles:write' },
      schema: {
        tags,
        summary: 'Update a custom role',
        params: RoleParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            description: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Null()])),
            permissions: Type.Optional(Permissions),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Type.Ref('Role') },
      },
    },
    async (request) =>
      s.roles.update(
        principalOf(request),
        requestContext(request),
        request.params.org,
        request.params.id,
        request.body,
      ),
  );

  r.delete(
    '/v1/organizations/:org/roles/:id',
    {
      config: { permission: 'roles:write' },
      schema: { tags, summary: 'Delete a custom role', params: RoleParams, response: { 204: NoContent } },
    },
    async (request, reply) => {
      await s.roles.delete(requestContext(request), request.params.org, request.params.id);
      return reply.code(204).send(null);
    },
  );

  r.get(
    '/v1/organizations/:org/users/:id/roles',
    {
      config: { permission: 'roles:read' },
      schema: {
        tags,
        summary: "List a user's roles",
        params: UserParams,
        response: {
          200: Type.Object({ data: Type.Array(Type.Ref('Role')), permissions: Type.Array(Type.String()) }),
        },
      },
    },
    async (request) => ({
      data: await s.roles.rolesOfUser(request.params.org, request.params.id),
      permissions: await s.roles.effectivePermissions(request.params.org, request.params.id),
    }),
  );

  r.put(
    '/v1/organizations/:org/users/:id/roles/:roleId',
    {
      config: { permission: 'roles:write' },
      schema: {
        tags,
        summary: 'Assign a role to a user',
        description:
          'Idempotent. The caller must hold every permission of the role (403 `permission_escalation`).',
        params: AssignmentParams,
        response: { 200: Type.Ref('Role') },
      },
    },
    async (request) =>
      s.roles.assign(
        principalOf(request),
        requestContext(request),
        request.params.org,
        request.params.id,
        request.params.roleId,
      ),
  );

  r.delete(
    '/v1/organizations/:org/users/:id/roles/:roleId',
    {
      config: { permission: 'roles:write' },
      schema: {
        tags,
        summary: 'Unassign a role from a user',
        params: AssignmentParams,
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      await s.roles.unassign(
        requestContext(request),
        request.params.org,
        request.params.id,
        request.params.roleId,
      );
      return reply.code(204).send(null);
    },
  );
}
