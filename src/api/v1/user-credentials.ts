import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { requestContext } from '../../http/context.ts';
import { IdParam, NoContent, OrgParams } from '../../http/schemas.ts';
import type { Services } from '../../services.ts';

const UserParams = Type.Object(
  { org: OrgParams.properties.org, id: IdParam('usr', 'User id (`usr_…`).') },
  { additionalProperties: false },
);

const MfaStatus = Type.Object(
  {
    required: Type.Boolean({
      description: 'The user must pass a second factor (user or organization setting).',
    }),
    totp: Type.Boolean({ description: 'An authenticator app is enrolled.' }),
    recoveryCodesRemaining: Type.Integer(),
    passkeys: Type.Integer({ description: 'WebAuthn credentials registered as a second factor.' }),
  },
  { title: 'MfaStatus' },
);

/** Admin APIs for a user's sign-in credentials: password, MFA, brute-force unlock. */
export default function userCredentialRoutes(app: FastifyInstance, s: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const credentials = s.oauth.credentials;
  const tags = ['Sign-in'];

  r.put(
    '/v1/organizations/:org/users/:id/password',
    {
      config: { permission: 'users:write' },
      schema: {
        tags,
        summary: "Set a user's password",
        description:
          'Hashed with argon2id. Refused with 422 `password_policy` when it breaks the organization’s password policy.',
        params: UserParams,
        body: Type.Object(
          { password: Type.String({ minLength: 1, maxLength: 1024 }) },
          { additionalProperties: false },
        ),
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      await credentials.setPassword(
        requestContext(request),
        request.params.org,
        request.params.id,
        request.body.password,
      );
      return reply.code(204).send(null);
    },
  );

  r.get(
    '/v1/organizations/:org/users/:id/mfa',
    {
      config: { permission: 'users:read' },
      schema: { tags, summary: "A user's second factors", params: UserParams, response: { 200: MfaStatus } },
    },
    async (request) => s.oauth.mfa.mfaStatus(request.params.org, request.params.id),
  );

  r.put(
    '/v1/organizations/:org/users/:id/mfa',
    {
      config: { permission: 'users:write' },
      schema: {
        tags,
        summary: 'Require MFA for a user',
        description:
          'With `required: true` the user must pass (or, at the next sign-in, enroll) a second factor.',
        params: UserParams,
        body: Type.Object({ required: Type.Boolean() }, { additionalProperties: false }),
        response: { 200: MfaStatus },
      },
    },
    async (request) =>
      s.oauth.mfa.setMfaRequired(
        requestContext(request),
        request.params.org,
        request.params.id,
        request.body.required,
      ),
  );

  r.post(
    '/v1/organizations/:org/users/:id/mfa/totp',
    {
      config: { permission: 'users:write' },
      schema: {
        tags,
        summary: 'Start TOTP enrollment',
        description:
          'A new authenticator secret as an `otpauth://` URI and a QR code (SVG). It is active once confirmed with a code.',
        params: UserParams,
        response: {
          201: Type.Object({
            secret: Type.String({ description: 'Base32 secret, for manual entry.' }),
            otpauthUri: Type.String(),
            qrCodeSvg: Type.String({ description: 'The otpauth URI as an SVG QR code.' }),
          }),
        },
      },
    },
    async (request, reply) => {
      const org = await s.organizations.get(request.params.org);
      const enrollment = await s.oauth.mfa.startTotp(
        request.params.org,
        request.params.id,
        `Latchkey (${org.name})`,
      );
      return reply.code(201).send(enrollment);
    },
  );

  r.post(
    '/v1/organizations/:org/users/:id/mfa/totp/verify',
    {
      config: { permission: 'users:write' },
      schema: {
        tags,
        summary: 'Confirm TOTP enrollment',
        description:
          'Checks a current code (±30 s) and returns ten single-use recovery codes, shown only here.',
        params: UserParams,
        body: Type.Object({ code: Type.String({ pattern: '^[0-9]{6}$' }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ recoveryCodes: Type.Array(Type.String()) }) },
      },
    },
    async (request) =>
      s.oauth.mfa.confirmTotp(
        requestContext(request),
        request.params.org,
        request.params.id,
        request.body.code,
      ),
  );

  r.delete(
    '/v1/organizations/:org/users/:id/mfa/totp',
    {
      config: { permission: 'users:write' },
      schema: {
        tags,
        summary: 'Remove TOTP and recovery codes',
        params: UserParams,
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      await s.oauth.mfa.removeTotp(requestContext(request), request.params.org, request.params.id);
      return reply.code(204).send(null);
    },
  );

  r.get(
    '/v1/organizations/:org/users/:id/lockout',
    {
      config: { permission: 'users:read' },
      schema: {
        tags,
        summary: 'Brute-force lockout state',
        description: 'Source IPs from which sign-in is currently refused for this user.',
        params: UserParams,
        response: { 200: Type.Object({ locked: Type.Boolean(), ips: Type.Array(Type.String()) }) },
      },
    },
    async (request) => {
      await s.users.get(request.params.org, request.params.id);
      const ips = await credentials.lockedIps(request.params.org, request.params.id);
      return { locked: ips.length > 0, ips };
    },
  );

  r.post(
    '/v1/organizations/:org/users/:id/unlock',
    {
      config: { permission: 'users:write' },
      schema: {
        tags,
        summary: 'Unlock a user',
        description: 'Clears the failed sign-in counters of every source IP (`user.unlocked`).',
        params: UserParams,
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      await credentials.unlock(requestContext(request), request.params.org, request.params.id);
      return reply.code(204).send(null);
    },
  );
}
