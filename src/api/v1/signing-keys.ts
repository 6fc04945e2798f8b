import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { SIGNING_ALGS } from '../../domain/oauth/signing-keys.ts';
import { requestContext } from '../../http/context.ts';
import { NullableTimestamp, OrgParams, Timestamp } from '../../http/schemas.ts';
import type { Services } from '../../services.ts';

const SigningKey = Type.Object(
  {
    id: Type.String({ description: 'The `kid` in token headers.' }),
    alg: Type.String(),
    status: Type.Union([Type.Literal('active'), Type.Literal('rotated')]),
    createdAt: Timestamp,
    rotatedAt: NullableTimestamp,
    retireAt: Type.Union([Timestamp, Type.Null()], {
      description: 'When a rotated key leaves the JWKS (after every token it signed has expired).',
    }),
    publicJwk: Type.Record(Type.String(), Type.Unknown()),
  },
  { title: 'SigningKey' },
);

export default function signingKeyRoutes(app: FastifyInstance, s: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/v1/organizations/:org/signing-keys',
    {
      config: { permission: 'signing-keys:read' },
      schema: {
        tags: ['OAuth clients'],
        summary: 'List token signing keys',
        description: 'Public parts only: the active key and rotated keys still published in the JWKS.',
        params: OrgParams,
        response: { 200: Type.Object({ data: Type.Array(SigningKey) }) },
      },
    },
    async (request) => ({ data: await s.oauth.signingKeys.list(request.params.org) }),
  );

  r.post(
    '/v1/organizations/:org/signing-keys/rotate',
    {
      config: { permission: 'signing-keys:write' },
      schema: {
        tags: ['OAuth clients'],
        summary: 'Rotate the token signing key',
        description:
          'New tokens are signed with a new key at once; the previous public key stays in the JWKS until the tokens it signed have expired.',
        params: OrgParams,
        body: Type.Optional(
          Type.Object(
            {
              alg: Type.Optional(
                Type.Union([
                  Type.Literal(SIGNING_ALGS[0]),
                  Type.Literal(SIGNING_ALGS[1]),
                  Type.Literal(SIGNING_ALGS[2]),
                ]),
              ),
            },
            { additionalProperties: false },
          ),
        ),
        response: { 201: SigningKey },
      },
    },
    async (request, reply) => {
      const key = await s.oauth.signingKeys.rotate(
        requestContext(request),
        request.params.org,
        request.body?.alg ?? 'ES256',
      );
      return reply.code(201).send(key);
    },
  );
}
