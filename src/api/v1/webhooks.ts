import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { parseDuration } from '../../domain/shared/duration.ts';
import { AppError } from '../../errors/app-error.ts';
import { requestContext } from '../../http/context.ts';
import { Cursor, IdParam, Limit, NoContent, pageOf, Timestamp } from '../../http/schemas.ts';
import type { Services } from '../../services.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const WebhookEndpoint = Type.Object(
  {
    id: Type.String({ description: 'Endpoint id (`whe_…`).' }),
    organizationId: Type.String(),
    url: Type.String(),
    description: Nullable(Type.String()),
    eventTypes: Type.Array(Type.String(), {
      description: 'Filters: `*`, exact types or `prefix.*` wildcards.',
    }),
    enabled: Type.Boolean(),
    disabledReason: Type.Union([Type.Literal('gone'), Type.Literal('failing'), Type.Null()], {
      description: 'Why Latchkey disabled the endpoint: it answered 410, or failed for 5 days.',
    }),
    previousSecretExpiresAt: Nullable(Timestamp),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'WebhookEndpoint', title: 'WebhookEndpoint', additionalProperties: false },
);

const Attempt = Type.Object(
  {
    attempt: Type.Integer({ minimum: 1 }),
    at: Timestamp,
    success: Type.Boolean(),
    statusCode: Nullable(Type.Integer()),
    latencyMs: Type.Integer(),
    responseBody: Nullable(Type.String({ description: 'The first bytes (at most 1 KiB) of the response.' })),
    error: Nullable(Type.String()),
  },
  { additionalProperties: false },
);

export const WebhookDelivery = Type.Object(
  {
    id: Type.String({ description: 'Delivery id (`whd_…`).' }),
    endpointId: Type.String(),
    eventId: Type.String({ description: 'The event id, sent as `webhook-id` on every attempt.' }),
    eventType: Type.String(),
    status: Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')]),
    attempts: Type.Array(Attempt),
    nextAttemptAt: Nullable(Timestamp),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'WebhookDelivery', title: 'WebhookDelivery', additionalProperties: false },
);

const EndpointParams = Type.Object(
  {
    org: IdParam('org', 'Organization id (`org_…`).'),
    id: IdParam('whe', 'Webhook endpoint id (`whe_…`).'),
  },
  { additionalProperties: false },
);
const DeliveryParams = Type.Object(
  {
    org: IdParam('org', 'Organization id (`org_…`).'),
    id: IdParam('whe', 'Webhook endpoint id (`whe_…`).'),
    deliveryId: IdParam('whd', 'Delivery id (`whd_…`).'),
  },
  { additionalProperties: false },
);
const OrgOnly = Type.Object(
  { org: IdParam('org', 'Organization id (`org_…`).') },
  { additionalProperties: false },
);

const EventFilter = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: '^(\\*|[a-z_]+(\\.[a-z_]+)*(\\.\\*)?)$',
});
const Url = Type.String({
  minLength: 1,
  maxLength: 2000,
  description: 'https URL (plain http only for hosts in `LATCHKEY_OUTBOUND_ALLOWLIST`).',
});
const Description = Nullable(Type.String({ maxLength: 1000 }));
const SecretField = Type.String({ description: 'The `whsec_` signing secret. Shown only in this response.' });

export default function webhookRoutes(app: FastifyInstance, s: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['Webhooks'];
  const base = '/v1/organizations/:org/webhooks';

  r.post(
    base,
    {
      config: { permission: 'webhooks:write' },
      schema: {
        tags,
        summary: 'Create a webhook endpoint',
        description:
          'Events matching `eventTypes` are POSTed to `url`, signed with Standard Webhooks. The URL is checked against the SSRF guard now and at every delivery. The `secret` is in this response only.',
        params: OrgOnly,
        body: Type.Object(
          {
            url: Url,
            description: Type.Optional(Description),
            eventTypes: Type.Optional(
              Type.Array(EventFilter, { minItems: 1, maxItems: 100, default: undefined }),
            ),
            enabled: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Intersect([Type.Ref('WebhookEndpoint'), Type.Object({ secret: SecretField })]),
        },
      },
    },
    async (request, reply) => {
      const { endpoint, secret } = await s.webhooks.create(
        requestContext(request),
        request.params.org,
        request.body,
      );
      return reply.code(201).send({ ...endpoint, secret });
    },
  );

  r.get(
    base,
    {
      config: { permission: 'webhooks:read' },
      schema: {
        tags,
        summary: 'List webhook endpoints',
        params: OrgOnly,
        querystring: Type.Object(
          { cursor: Type.Optional(Cursor), limit: Type.Optional(Limit) },
          { additionalProperties: false },
        ),
        response: { 200: pageOf(Type.Ref('WebhookEndpoint')) },
      },
    },
    async (request) => s.webhooks.list(request.params.org, request.query.cursor, request.query.limit ?? 50),
  );

  r.get(
    `${base}/:id`,
    {
      config: { permission: 'webhooks:read' },
      schema: {
        tags,
        summary: 'Get a webhook endpoint',
        params: EndpointParams,
        response: { 200: Type.Ref('WebhookEndpoint') },
      },
    },
    async (request) => s.webhooks.get(request.params.org, request.params.id),
  );

  r.patch(
    `${base}/:id`,
    {
      config: { permission: 'webhooks:write' },
      schema: {
        tags,
        summary: 'Update a webhook endpoint',
        description:
          'Setting `enabled: true` re-enables an endpoint Latchkey disabled, and resumes its queued deliveries.',
        params: EndpointParams,
        body: Type.Object(
          {
            url: Type.Optional(Url),
            description: Type.Optional(Description),
            eventTypes: Type.Optional(Type.Array(EventFilter, { minItems: 1, maxItems: 100 })),
            enabled: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Type.Ref('WebhookEndpoint') },
      },
    },
    async (request) =>
      s.webhooks.update(requestContext(request), request.params.org, request.params.id, request.body),
  );

  r.delete(
    `${base}/:id`,
    {
      config: { permission: 'webhooks:write' },
      schema: {
        tags,
        summary: 'Delete a webhook endpoint',
        description: 'Its queued deliveries and delivery log are deleted with it.',
        params: EndpointParams,
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      await s.webhooks.remove(requestContext(request), request.params.org, request.params.id);
      return reply.code(204).send(null);
    },
  );

  r.post(
    `${base}/:id/rotate-secret`,
    {
      config: { permission: 'webhooks:write' },
      schema: {
        tags,
        summary: 'Rotate the signing secret',
        description:
          'Returns a new secret (shown once). Until `previousSecretExpiresAt` (after `overlap`, default `24h`; `0s` for none) every delivery carries two signatures, one per secret.',
        params: EndpointParams,
        body: Type.Optional(
          Type.Object(
            {
              overlap: Type.Optional(
                Type.String({ pattern: '^\\d+[smhd]$', description: 'Such as `24h`, `7d`, `0s`.' }),
              ),
            },
            { additionalProperties: false },
          ),
        ),
        response: {
          200: Type.Intersect([Type.Ref('WebhookEndpoint'), Type.Object({ secret: SecretField })]),
        },
      },
    },
    async (request) => {
      const overlap = request.body?.overlap;
      const ms = overlap === undefined ? undefined : overlap === '0s' ? 0 : parseDuration(overlap);
      if (overlap !== undefined && ms === undefined)
        throw new AppError('validation_failed', 'overlap is not a duration');
      const { endpoint, secret } = await s.webhooks.rotateSecret(
        requestContext(request),
        request.params.org,
        request.params.id,
        ms,
      );
      return { ...endpoint, secret };
    },
  );

  r.post(
    `${base}/:id/test`,
    {
      config: { permission: 'webhooks:write' },
      schema: {
        tags,
        summary: 'Send a test event',
        description:
          'Sends a signed `webhook.test` event now and answers with the outcome. It is recorded in the delivery log and not retried.',
        params: EndpointParams,
        response: {
          200: Type.Object(
            {
              deliveryId: Type.String(),
              eventId: Type.String(),
              attempt: Type.Integer(),
              success: Type.Boolean(),
              statusCode: Nullable(Type.Integer()),
              latencyMs: Type.Integer(),
              responseBody: Nullable(Type.String()),
              error: Nullable(Type.String()),
            },
            { additionalProperties: false },
          ),
        },
      },
    },
    async (request) => s.webhooks.testSend(requestContext(request), request.params.org, request.params.id),
  );

  r.get(
    `${base}/:id/deliveries`,
    {
      config: { permission: 'webhooks:read' },
      schema: {
        tags,
        summary: "List an endpoint's deliveries",
        description:
          'Newest first, each with every attempt (time, status, latency, first bytes of the response, error).',
        params: EndpointParams,
        querystring: Type.Object(
          {
            status: Type.Optional(
              Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')]),
            ),
            eventId: Type.Optional(Type.String({ maxLength: 100 })),
            cursor: Type.Optional(Cursor),
            limit: Type.Optional(Limit),
          },
          { additionalProperties: false },
        ),
        response: { 200: pageOf(Type.Ref('WebhookDelivery')) },
      },
    },
    async (request) =>
      s.webhooks.deliveries(request.params.org, {
        endpointId: request.params.id,
        ...request.query,
        limit: request.query.limit ?? 50,
      }),
  );

  r.get(
    `${base}/:id/deliveries/:deliveryId`,
    {
      config: { permission: 'webhooks:read' },
      schema: {
        tags,
        summary: 'Get a delivery and its attempts',
        params: DeliveryParams,
        response: { 200: Type.Ref('WebhookDelivery') },
      },
    },
    async (request) => s.webhooks.delivery(request.params.org, request.params.id, request.params.deliveryId),
  );

  r.post(
    `${base}/:id/deliveries/:deliveryId/retry`,
    {
      config: { permission: 'webhooks:write' },
      schema: {
        tags,
        summary: 'Retry a delivery now',
        description:
          'Queues the delivery again with a fresh retry schedule; the `webhook-id` stays the same.',
        params: DeliveryParams,
        response: { 202: Type.Ref('WebhookDelivery') },
      },
    },
    async (request, reply) => {
      const delivery = await s.webhooks.retry(
        request.params.org,
        request.params.id,
        request.params.deliveryId,
      );
      s.dispatcher.nudge();
      return reply.code(202).send(delivery);
    },
  );

  r.post(
    `${base}/:id/replay`,
    {
      config: { permission: 'webhooks:write' },
      schema: {
        tags,
        summary: 'Replay a time range',
        description:
          'Queues every stored event of [`from`, `to`) that the endpoint subscribes to (or that `eventTypes` selects), in log order, with their original ids. At most 10,000 per call; `truncated` says when to call again with a later `from`.',
        params: EndpointParams,
        body: Type.Object(
          {
            from: Timestamp,
            to: Timestamp,
            eventTypes: Type.Optional(Type.Array(EventFilter, { minItems: 1, maxItems: 100 })),
          },
          { additionalProperties: false },
        ),
        response: {
          202: Type.Object(
            { queued: Type.Integer(), truncated: Type.Boolean() },
            { additionalProperties: false },
          ),
        },
      },
    },
    async (request, reply) => {
      const from = new Date(request.body.from).toISOString();
      const to = new Date(request.body.to).toISOString();
      if (from >= to) throw new AppError('validation_failed', '`from` must be before `to`');
      await s.batch.flush();
      const result = await s.webhooks.replay(request.params.org, request.params.id, {
        from,
        to,
        eventTypes: request.body.eventTypes,
      });
      s.dispatcher.nudge();
      return reply.code(202).send(result);
    },
  );

  r.get(
    '/v1/organizations/:org/events/:eventId/deliveries',
    {
      config: { permission: 'webhooks:read' },
      schema: {
        tags,
        summary: "List an event's deliveries",
        description: 'Every delivery of one event, to every endpoint, with its attempts.',
        params: Type.Object(
          {
            org: IdParam('org', 'Organization id (`org_…`).'),
            eventId: IdParam('evt', 'Event id (`evt_…`).'),
          },
          { additionalProperties: false },
        ),
        querystring: Type.Object(
          { cursor: Type.Optional(Cursor), limit: Type.Optional(Limit) },
          { additionalProperties: false },
        ),
        response: { 200: pageOf(Type.Ref('WebhookDelivery')) },
      },
    },
    async (request) =>
      s.webhooks.deliveries(request.params.org, {
        eventId: request.params.eventId,
        cursor: request.query.cursor,
        limit: request.query.limit ?? 50,
      }),
  );
}
