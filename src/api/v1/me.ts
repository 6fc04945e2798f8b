import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { PERMISSIONS } from '../../domain/permissions/catalogue.ts';
import { principalOf } from '../../http/context.ts';
import type { Services } from '../../services.ts';

const Me = Type.Object(
  {
    type: Type.Union([Type.Literal('api_key'), Type.Literal('user')]),
    id: Type.String(),
    name: Type.String(),
    organization: Type.Ref('Organization'),
    permissions: Type.Array(Type.String(), { description: 'Effective permissions of the caller.' }),
    user: Type.Optional(Type.Ref('User')),
  },
  { title: 'Me' },
);

export default function meRoutes(app: FastifyInstance, s: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/v1/users/me',
    {
      schema: {
        tags: ['Users'],
        summary: 'The caller',
        description:
          'Who is calling (an API key, or the user behind an access token), its organization and effective permissions.',
        response: { 200: Me },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const org = await s.organizations.get(p.organizationId);
      const user = p.type === 'user' ? await s.users.get(p.organizationId, p.id) : undefined;
      return {
        type: p.type,
        id: p.id,
        name: p.display,
        organization: {
          id: org.id,
          name: org.name,
          mode: org.mode,
          root: org.isRoot,
          createdAt: org.createdAt,
          updatedAt: org.updatedAt,
        },
        permissions: [...p.permissions].sort(),
        ...(user ? { user } : {}),
      };
    },
  );

  r.get(
    '/v1/permissions',
    {
      schema: {
        tags: ['Permissions'],
        summary: 'The permission catalogue',
        description:
          'Every permission Latchkey knows. Keys may also hold custom `resource:action` permissions for your own APIs.',
        response: {
          200: Type.Object({
            data: Type.Array(Type.Object({ name: Type.String(), description: Type.String() })),
          }),
        },
      },
    },
    async () => ({ data: PERMISSIONS.map((p) => ({ name: p.name, description: p.description })) }),
  );
}
