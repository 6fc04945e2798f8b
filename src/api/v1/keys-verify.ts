import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { PERMISSION_PATTERN } from '../../domain/permissions/catalogue.ts';
import { principalOf, requestOrigin } from '../../http/context.ts';
import { Metadata, NullableTimestamp } from '../../http/schemas.ts';
import type { Services } from '../../services.ts';

const VerifyResult = Type.Object(
  {
    valid: Type.Boolean(),
    code: Type.Union([
      Type.Literal('VALID'),
      Type.Literal('NOT_FOUND'),
      Type.Literal('EXPIRED'),
      Type.Literal('REVOKED'),
      Type.Literal('IP_NOT_ALLOWED'),
      Type.Literal('RATE_LIMITED'),
      Type.Literal('INSUFFICIENT_PERMISSIONS'),
    ]),
    keyId: Type.Union([Type.String(), Type.Null()]),
    organizationId: Type.Union([Type.String(), Type.Null()]),
    name: Type.Union([Type.String(), Type.Null()]),
    permissions: Type.Array(Type.String()),
    metadata: Type.Union([Metadata, Type.Null()]),
    expiresAt: NullableTimestamp,
    rateLimit: Type.Union([
      Type.Object({
        limit: Type.Integer(),
        remaining: Type.Integer(),
        reset: Type.String({ format: 'date-time', description: 'When the current window ends.' }),
      }),
      Type.Null(),
    ]),
  },
  { title: 'KeyVerification' },
);

export default function keyVerifyRoutes(app: FastifyInstance, s: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/v1/keys/verify',
    {
      config: { permission: 'api-keys:verify' },
      schema: {
        tags: ['API keys'],
        summary: 'Verify a key presented to your own API',
        description:
          "Answers 200 with `valid` and a `code` (`VALID`, `NOT_FOUND`, `EXPIRED`, `REVOKED`, `IP_NOT_ALLOWED`, `RATE_LIMITED`, `INSUFFICIENT_PERMISSIONS`). `permissions` must all be held by the key; `ip` is the address your API saw, checked against the key's allowlist. A valid verification counts as a use of the key (usage statistics, rate limit, `api_key.used`). Keys of other organizations than the caller's are `NOT_FOUND`.",
        body: Type.Object(
          {
            key: Type.String({ minLength: 1, maxLength: 200 }),
            permissions: Type.Optional(
              Type.Array(Type.String({ pattern: PERMISSION_PATTERN }), { maxItems: 100 }),
            ),
            ip: Type.Optional(Type.String({ anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] })),
          },
          { additionalProperties: false },
        ),
        response: { 200: VerifyResult },
      },
    },
    (request) => s.apiKeys.verify(principalOf(request), requestOrigin(request), request.body),
  );
}
