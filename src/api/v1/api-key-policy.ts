import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ApiKeyPolicy } from '../../domain/api-keys/policy.ts';
import { DURATION_PATTERN } from '../../domain/shared/duration.ts';
import { requestContext } from '../../http/context.ts';
import { NullableTimestamp, OrgParams } from '../../http/schemas.ts';
import type { Services } from '../../services.ts';

const Duration = Type.String({ pattern: DURATION_PATTERN });

const Policy = Type.Object(
  {
    requireExpiry: Type.Boolean({ description: 'Every new key must have an expiry.' }),
    maxLifetime: Type.Union([Duration, Type.Null()], {
      description: 'Longest lifetime a new key may have (`"365d"`); implies an expiry. Null: no maximum.',
    }),
    rotationPeriods: Type.Object(
      { admin: Duration, 'read-write': Duration, 'read-only': Duration },
      {
        description:
          'Recommended rotation period per tier; past it a key is flagged `rotationDue` and `api_key.rotation_due` is written once. Defaults (seed 004): admin 30d, read-write 60d, read-only 90d.',
      },
    ),
    updatedAt: NullableTimestamp,
  },
  { title: 'ApiKeyPolicy' },
);

const dto = (p: ApiKeyPolicy) => ({ ...p, rotationPeriods: { ...p.rotationPeriods } });

export default function apiKeyPolicyRoutes(app: FastifyInstance, s: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/v1/organizations/:org/api-key-policy',
    {
      config: { permission: 'api-keys:read' },
      schema: {
        tags: ['API keys'],
        summary: "The organization's API-key policy",
        params: OrgParams,
        response: { 200: Policy },
      },
    },
    async (request) => dto(await s.apiKeyPolicies.get(request.params.org)),
  );

  r.put(
    '/v1/organizations/:org/api-key-policy',
    {
      config: { permission: 'api-keys:write' },
      schema: {
        tags: ['API keys'],
        summary: "Change the organization's API-key policy",
        description:
          'Fields left out keep their value. Applies to keys created from now on; rotation dates of live keys are recomputed from their creation time.',
        params: OrgParams,
        body: Type.Object(
          {
            requireExpiry: Type.Optional(Type.Boolean()),
            maxLifetime: Type.Optional(Type.Union([Duration, Type.Null()])),
            rotationPeriods: Type.Optional(
              Type.Object(
                {
                  admin: Type.Optional(Duration),
                  'read-write': Type.Optional(Duration),
                  'read-only': Type.Optional(Duration),
                },
                { additionalProperties: false },
              ),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: Policy },
      },
    },
    async (request) =>
      dto(await s.apiKeyPolicies.update(requestContext(request), request.params.org, request.body)),
  );
}
