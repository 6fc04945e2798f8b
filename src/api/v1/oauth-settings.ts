import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { requestContext } from '../../http/context.ts';
import { OrgParams } from '../../http/schemas.ts';
import type { Services } from '../../services.ts';

const fields = {
  accessTokenTtl: Type.Integer({
    minimum: 60,
    maximum: 86_400,
    description: 'Access-token lifetime, seconds (default 600).',
  }),
  refreshTokenTtl: Type.Integer({
    minimum: 300,
    maximum: 31_536_000,
    description: 'Refresh-token lifetime, seconds.',
  }),
  sessionIdleTimeout: Type.Integer({
    minimum: 60,
    description: 'A session ends after this long without activity, seconds.',
  }),
  sessionAbsoluteTimeout: Type.Integer({
    minimum: 300,
    description: 'A session ends this long after sign-in, seconds.',
  }),
  lockoutThreshold: Type.Integer({
    minimum: 3,
    maximum: 100,
    description: 'Failed sign-ins per account and IP before lockout (default 10).',
  }),
  lockoutDuration: Type.Integer({ minimum: 60, description: 'How long a lockout lasts, seconds.' }),
  passwordMinLength: Type.Integer({ minimum: 8, maximum: 128 }),
  passwordRequireMixed: Type.Boolean({ description: 'Require lower case, upper case and a digit.' }),
  mfaRequired: Type.Boolean({ description: 'Every user must pass a second factor.' }),
};

const OAuthSettings = Type.Object(fields, { title: 'OAuthSettings' });

export default function oauthSettingsRoutes(app: FastifyInstance, s: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['Sign-in'];

  r.get(
    '/v1/organizations/:org/oauth-settings',
    {
      config: { permission: 'organizations:read' },
      schema: {
        tags,
        summary: 'Token, session and sign-in policy',
        params: OrgParams,
        response: { 200: OAuthSettings },
      },
    },
    async (request) => s.oauth.settings.get(request.params.org),
  );

  r.patch(
    '/v1/organizations/:org/oauth-settings',
    {
      config: { permission: 'organizations:write' },
      schema: {
        tags,
        summary: 'Update token, session and sign-in policy',
        params: OrgParams,
        body: Type.Object(
          Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, Type.Optional(v)])) as {
            [K in keyof typeof fields]: ReturnType<typeof Type.Optional<(typeof fields)[K]>>;
          },
          { additionalProperties: false },
        ),
        response: { 200: OAuthSettings },
      },
    },
    async (request) => s.oauth.settings.update(requestContext(request), request.params.org, request.body),
  );
}
