import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ChannelType } from '../../domain/alerts/channel-types.ts';
import { requestContext } from '../../http/context.ts';
import { IdParam, NoContent, OrgParams, Timestamp } from '../../http/schemas.ts';
import type { Services } from '../../services.ts';

const ChannelTypeSchema = Type.Union([
  Type.Literal('email'),
  Type.Literal('sms'),
  Type.Literal('slack'),
  Type.Literal('pagerduty'),
  Type.Literal('webhook'),
]);

export const AlertChannel = Type.Object(
  {
    id: Type.String(),
    organizationId: Type.String(),
    name: Type.String(),
    type: ChannelTypeSchema,
    enabled: Type.Boolean(),
    settings: Type.Record(Type.String(), Type.Unknown(), { description: 'Non-secret settings.' }),
    secretsSet: Type.Array(Type.String(), {
      description: 'Secret settings that are set; their values are never returned.',
    }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'AlertChannel', title: 'AlertChannel' },
);

const Settings = Type.Record(Type.String(), Type.Unknown(), {
  description:
    'email: host, port, secure, username, password*, from, to[]. sms: baseUrl, accountSid, authToken*, from, to[]. slack: url*. pagerduty: routingKey*, severity, url. webhook: url, secret* (generated when absent). * = encrypted at rest, never returned.',
});
const ChannelParams = Type.Object(
  { org: OrgParams.properties.org, id: IdParam('ach', 'Alert channel id (`ach_…`).') },
  { additionalProperties: false },
);
const tags = ['Alert channels'];

export default function alertChannelRoutes(app: FastifyInstance, s: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/v1/organizations/:org/alert-channels',
    {
      config: { permission: 'alerts:write' },
      schema: {
        tags,
        summary: 'Create an alert channel',
        params: OrgParams,
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            type: ChannelTypeSchema,
            enabled: Type.Optional(Type.Boolean()),
            settings: Settings,
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            ...AlertChannel.properties,
            secret: Type.Optional(
              Type.String({ description: 'A generated webhook signing secret, shown once.' }),
            ),
          }),
        },
      },
    },
    async (request, reply) => {
      const { channel, secret } = await s.alerts.create(requestContext(request), request.params.org, {
        ...request.body,
        type: request.body.type as ChannelType,
      });
      return reply.code(201).send({ ...channel, ...(secret ? { secret } : {}) });
    },
  );

  r.get(
    '/v1/organizations/:org/alert-channels',
    {
      config: { permission: 'alerts:read' },
      schema: {
        tags,
        summary: 'List alert channels',
        params: OrgParams,
        response: { 200: Type.Object({ data: Type.Array(Type.Ref('AlertChannel')) }) },
      },
    },
    async (request) => ({ data: await s.alerts.list(request.params.org) }),
  );

  r.get(
    '/v1/organizations/:org/alert-channels/:id',
    {
      config: { permission: 'alerts:read' },
      schema: {
        tags,
        summary: 'Get an alert channel',
        params: ChannelParams,
        response: { 200: Type.Ref('AlertChannel') },
      },
    },
    async (request) => s.alerts.get(request.params.org, request.params.id),
  );

  r.patch(
    '/v1/organizations/:org/alert-channels/:id',
    {
      config: { permission: 'alerts:write' },
      schema: {
        tags,
        summary: 'Update an alert channel',
        description: 'Settings are merged; a secret setting left out keeps its value.',
        params: ChannelParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            enabled: Type.Optional(Type.Boolean()),
            settings: Type.Optional(Settings),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Ref('AlertChannel') },
      },
    },
    async (request) =>
      s.alerts.update(requestContext(request), request.params.org, request.params.id, request.body),
  );

  r.delete(
    '/v1/organizations/:org/alert-channels/:id',
    {
      config: { permission: 'alerts:write' },
      schema: {
        tags,
        summary: 'Delete an alert channel',
        params: ChannelParams,
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      await s.alerts.delete(requestContext(request), request.params.org, request.params.id);
      return reply.code(204).send(null);
    },
  );

  r.post(
    '/v1/organizations/:org/alert-channels/:id/test',
    {
      config: { permission: 'alerts:write' },
      schema: {
        tags,
        summary: 'Send a test alert',
        description:
          'Sends now, unthrottled; the outcome is also recorded as `alert.sent` or `alert.failed`.',
        params: ChannelParams,
        response: {
          200: Type.Object({
            ok: Type.Boolean(),
            status: Type.Optional(Type.Integer()),
            error: Type.Optional(Type.String()),
          }),
        },
      },
    },
    async (request) => s.alerts.testSend(requestContext(request), request.params.org, request.params.id),
  );
}
