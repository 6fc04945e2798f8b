import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { principalOf, requestContext } from '../../http/context.ts';
import { OrgParams, Timestamp } from '../../http/schemas.ts';
import type { Services } from '../../services.ts';
import type { Organization as OrganizationRecord } from '../../store/repos/organizations.ts';
import { ApiKey, apiKeyDto } from './api-keys.ts';

export const Organization = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    mode: Type.Union([Type.Literal('live'), Type.Literal('test')], {
      description: '`test` organizations mint `ak_test_` keys; `live` ones mint `ak_live_` keys.',
    }),
    root: Type.Boolean({
      description: 'The organization created at bootstrap; its owner key may create organizations.',
    }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'Organization', title: 'Organization' },
);

/** An organization as the API shows it (`Organization` schema), here and in `/v1/users/me`. */
export function organizationDto(org: OrganizationRecord) {
  return {
    id: org.id,
    name: org.name,
    mode: org.mode,
    root: org.isRoot,
    createdAt: org.createdAt,
    updatedAt: org.updatedAt,
  };
}

export default function organizationRoutes(app: FastifyInstance, s: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['Organizations'];

  r.post(
    '/v1/organizations',
    {
      config: { permission: 'organizations:create' },
      schema: {
        tags,
        summary: 'Create an organization',
        description:
          'Root organization only. Creates the organization with its built-in roles and an owner key, returned once in `ownerKey.key`.',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            mode: Type.Optional(
              Type.Union([Type.Literal('live'), Type.Literal('test')], { default: 'live' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            organization: Type.Ref('Organization'),
            ownerKey: Type.Object({ ...ApiKey.properties, key: Type.String() }),
          }),
        },
      },
    },
    async (request, reply) => {
      const created = await s.organizations.create(principalOf(request), requestContext(request), {
        name: request.body.name,
        mode: request.body.mode ?? 'live',
      });
      return reply.code(201).send({
        organization: organizationDto(created.organization),
        ownerKey: { ...apiKeyDto(created.ownerKey.view), key: created.ownerKey.key },
      });
    },
  );

  r.get(
    '/v1/organizations/:org',
    {
      config: { permission: 'organizations:read' },
      schema: {
        tags,
        summary: 'Get an organization',
        params: OrgParams,
        response: { 200: Type.Ref('Organization') },
      },
    },
    async (request) => organizationDto(await s.organizations.get(request.params.org)),
  );

  r.patch(
    '/v1/organizations/:org',
    {
      config: { permission: 'organizations:write' },
      schema: {
        tags,
        summary: 'Update an organization',
        params: OrgParams,
        body: Type.Object(
          { name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Type.Ref('Organization') },
      },
    },
    async (request) =>
      organizationDto(
        await s.organizations.update(requestContext(request), request.params.org, request.body),
      ),
  );
}
