import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { requestContext } from '../../http/context.ts';
import { IdParam, NoContent, NullableTimestamp, OrgParams } from '../../http/schemas.ts';
import type { Services } from '../../services.ts';

const UserParams = Type.Object(
  { org: OrgParams.properties.org, id: IdParam('usr', 'User id (`usr_…`).') },
  { additionalProperties: false },
);

const Session = Type.Object(
  {
    id: Type.String({ description: 'Session id (not the cookie).' }),
    userId: Type.String(),
    signedInAt: NullableTimestamp,
    expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'When the session ends: the idle timeout, capped by the absolute timeout.',
    }),
    amr: Type.Array(Type.String(), { description: 'How the user authenticated (`pwd`, `otp`, `kba`).' }),
    clients: Type.Array(Type.String(), { description: 'Clients that obtained tokens in this session.' }),
  },
  { title: 'Session' },
);

export default function sessionRoutes(app: FastifyInstance, s: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const sessions = s.oauth.sessions;
  const tags = ['Sessions'];

  r.get(
    '/v1/organizations/:org/users/:id/sessions',
    {
      config: { permission: 'sessions:read' },
      schema: {
        tags,
        summary: "List a user's sessions",
        params: UserParams,
        response: { 200: Type.Object({ data: Type.Array(Session) }) },
      },
    },
    async (request) => {
      await s.users.get(request.params.org, request.params.id);
      return { data: await sessions.list(request.params.org, request.params.id) };
    },
  );

  r.delete(
    '/v1/organizations/:org/users/:id/sessions/:sessionId',
    {
      config: { permission: 'sessions:write' },
      schema: {
        tags,
        summary: 'Terminate a session',
        description: 'Ends the session and revokes the refresh tokens issued in it (`session.revoked`).',
        params: Type.Object(
          {
            org: OrgParams.properties.org,
            id: UserParams.properties.id,
            sessionId: Type.String({ minLength: 1, maxLength: 100 }),
          },
          { additionalProperties: false },
        ),
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      await sessions.revoke(
        requestContext(request),
        request.params.org,
        request.params.id,
        request.params.sessionId,
      );
      return reply.code(204).send(null);
    },
  );

  r.delete(
    '/v1/organizations/:org/users/:id/sessions',
    {
      config: { permission: 'sessions:write' },
      schema: {
        tags,
        summary: 'Terminate every session of a user',
        params: UserParams,
        response: { 200: Type.Object({ terminated: Type.Integer() }) },
      },
    },
    async (request) => {
      await s.users.get(request.params.org, request.params.id);
      return {
        terminated: await sessions.revokeAll(requestContext(request), request.params.org, request.params.id),
      };
    },
  );
}
