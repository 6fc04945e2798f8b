import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Principal } from '../../domain/auth/principal.ts';
import { AppError } from '../../errors/app-error.ts';
import { principalOf, requestContext } from '../../http/context.ts';
import type { Services } from '../../services.ts';

function userOf(request: FastifyRequest): Principal {
  const p = principalOf(request);
  if (p.type !== 'user') {
    throw new AppError(
      'permission_denied',
      'Passkeys are registered by the user: call this with their access token',
    );
  }
  return p;
}

/** Passkey (WebAuthn) registration by the signed-in user, with their access token. */
export default function webauthnRoutes(app: FastifyInstance, s: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['Sign-in'];

  r.post(
    '/v1/users/me/webauthn/registration-options',
    {
      schema: {
        tags,
        summary: 'Start registering a passkey',
        description:
          'WebAuthn `PublicKeyCredentialCreationOptions` (JSON) for `navigator.credentials.create()`. Needs a user access token.',
        response: { 200: Type.Record(Type.String(), Type.Unknown()) },
      },
    },
    async (request) => {
      const p = userOf(request);
      const options = await s.oauth.webauthn.registrationOptions(p.organizationId, p.id);
      return { ...options };
    },
  );

  r.post(
    '/v1/users/me/webauthn/registrations',
    {
      schema: {
        tags,
        summary: 'Register a passkey as a second factor',
        description: 'The `PublicKeyCredential` from the browser, as JSON. Writes `user.mfa.enrolled`.',
        body: Type.Object(
          { credential: Type.Record(Type.String(), Type.Unknown()) },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ id: Type.String({ description: 'Credential id.' }) }) },
      },
    },
    async (request, reply) => {
      const p = userOf(request);
      const created = await s.oauth.webauthn.register(
        requestContext(request),
        p.organizationId,
        p.id,
        request.body.credential as unknown as RegistrationResponseJSON,
      );
      return reply.code(201).send(created);
    },
  );
}
