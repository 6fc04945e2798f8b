import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { RuleDefinition } from '../../domain/rules/types.ts';
import { requestContext } from '../../http/context.ts';
import { Cursor, IdParam, Limit, NoContent, OrgParams, pageOf, Timestamp } from '../../http/schemas.ts';
import type { Services } from '../../services.ts';
import { Rule, RuleCreate, RulePatch } from './rule-schemas.ts';

const RuleParams = Type.Object(
  { org: OrgParams.properties.org, id: IdParam('rul', 'Rule id (`rul_…`).') },
  { additionalProperties: false },
);
const tags = ['Rules'];

export default function ruleRoutes(app: FastifyInstance, s: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const rules = s.rules;

  r.post(
    '/v1/organizations/:org/rules',
    {
      config: { permission: 'rules:write' },
      schema: {
        tags,
        summary: 'Create a rule',
        description:
          'A condition that does not compile is refused with 422 `invalid_condition` naming the line and column.',
        params: OrgParams,
        body: RuleCreate,
        response: { 201: Type.Ref('Rule') },
      },
    },
    async (request, reply) => {
      const rule = await rules.create(
        requestContext(request),
        request.params.org,
        request.body as Partial<RuleDefinition> & { name: string },
      );
      return reply.code(201).send(rule);
    },
  );

  r.get(
    '/v1/organizations/:org/rules',
    {
      config: { permission: 'rules:read' },
      schema: {
        tags,
        summary: 'List rules',
        params: OrgParams,
        querystring: Type.Object(
          { cursor: Type.Optional(Cursor), limit: Type.Optional(Limit) },
          { additionalProperties: false },
        ),
        response: { 200: pageOf(Type.Ref('Rule')) },
      },
    },
    async (request) =>
      rules.list(request.params.org, { cursor: request.query.cursor, limit: request.query.limit ?? 50 }),
  );

  r.get(
    '/v1/organizations/:org/rules/:id',
    {
      config: { permission: 'rules:read' },
      schema: { tags, summary: 'Get a rule', params: RuleParams, response: { 200: Type.Ref('Rule') } },
    },
    async (request) => rules.get(request.params.org, request.params.id),
  );

  r.patch(
    '/v1/organizations/:org/rules/:id',
    {
      config: { permission: 'rules:write' },
      schema: {
        tags,
        summary: 'Update a rule (a new version)',
        params: RuleParams,
        body: RulePatch,
        response: { 200: Type.Ref('Rule') },
      },
    },
    async (request) =>
      rules.update(
        requestContext(request),
        request.params.org,
        request.params.id,
        request.body as Partial<RuleDefinition>,
      ),
  );

  r.delete(
    '/v1/organizations/:org/rules/:id',
    {
      config: { permission: 'rules:write' },
      schema: { tags, summary: 'Delete a rule', params: RuleParams, response: { 204: NoContent } },
    },
    async (request, reply) => {
      await rules.delete(requestContext(request), request.params.org, request.params.id);
      return reply.code(204).send(null);
    },
  );

  r.get(
    '/v1/organizations/:org/rules/:id/versions',
    {
      config: { permission: 'rules:read' },
      schema: {
        tags,
        summary: 'List the versions of a rule',
        params: RuleParams,
        response: {
          200: Type.Object({
            data: Type.Array(
              Type.Object({
                version: Type.Integer(),
                createdAt: Timestamp,
                actor: Type.Object({ type: Type.String(), id: Type.Union([Type.String(), Type.Null()]) }),
                rule: Type.Ref('Rule'),
              }),
            ),
          }),
        },
      },
    },
    async (request) => ({ data: await rules.versions(request.params.org, request.params.id) }),
  );

  r.get(
    '/v1/organizations/:org/rules/:id/firings',
    {
      config: { permission: 'rules:read' },
      schema: {
        tags,
        summary: 'List recent firings of a rule',
        params: RuleParams,
        querystring: Type.Object({ limit: Type.Optional(Limit) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            data: Type.Array(
              Type.Object({
                id: Type.String(),
                ruleVersion: Type.Integer(),
                groupKey: Type.String(),
                firedAt: Timestamp,
                eventIds: Type.Array(Type.String()),
                status: Type.String(),
                actionsTaken: Type.Integer(),
                results: Type.Array(Type.Unknown()),
              }),
            ),
          }),
        },
      },
    },
    async (request) => ({
      data: await rules.firings(request.params.org, request.params.id, request.query.limit ?? 50),
    }),
  );

  r.post(
    '/v1/organizations/:org/rules/:id/backtest',
    {
      config: { permission: 'rules:read' },
      schema: {
        tags,
        summary: 'Backtest a rule over stored events',
        description:
          'Replays the events of [from, to) through the rule with fresh state and reports what it would have fired. Nothing is acted on or recorded.',
        params: RuleParams,
        body: Type.Object(
          {
            from: Timestamp,
            to: Timestamp,
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            ruleId: Type.String(),
            ruleVersion: Type.Integer(),
            from: Timestamp,
            to: Timestamp,
            eventsScanned: Type.Integer(),
            truncated: Type.Boolean(),
            firings: Type.Array(
              Type.Object({
                at: Timestamp,
                groupKey: Type.String(),
                group: Type.Record(Type.String(), Type.Unknown()),
                count: Type.Integer(),
                eventIds: Type.Array(Type.String()),
                ip: Type.Union([Type.String(), Type.Null()]),
                actions: Type.Array(Type.String()),
              }),
            ),
          }),
        },
      },
    },
    async (request) =>
      rules.backtest(request.params.org, request.params.id, {
        from: new Date(request.body.from).toISOString(),
        to: new Date(request.body.to).toISOString(),
        limit: request.body.limit,
      }),
  );

  r.post(
    '/v1/organizations/:org/rules/:id/run',
    {
      config: { permission: 'rules:write' },
      schema: {
        tags,
        summary: 'Run a scheduled check now',
        params: RuleParams,
        response: { 200: Type.Object({ fired: Type.Integer() }) },
      },
    },
    async (request) => ({ fired: await rules.runNow(request.params.org, request.params.id) }),
  );

  r.get(
    '/v1/organizations/:org/rule-templates',
    {
      config: { permission: 'rules:read' },
      schema: {
        tags,
        summary: 'List the built-in detectors',
        params: OrgParams,
        response: {
          200: Type.Object({
            data: Type.Array(
              Type.Object({
                id: Type.String(),
                summary: Type.String(),
                definition: Type.Record(Type.String(), Type.Unknown()),
              }),
            ),
          }),
        },
      },
    },
    async () => ({
      data: rules
        .templates()
        .map((t) => ({ ...t, definition: t.definition as unknown as Record<string, unknown> })),
    }),
  );

  r.post(
    '/v1/organizations/:org/rule-templates/install',
    {
      config: { permission: 'rules:write' },
      schema: {
        tags,
        summary: 'Install built-in detectors',
        description:
          'Installs the named templates (all when `templates` is empty) that the organization does not have yet, in monitor mode.',
        params: OrgParams,
        body: Type.Object(
          { templates: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 50 }) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ data: Type.Array(Type.Ref('Rule')) }) },
      },
    },
    async (request) => ({
      data: await rules.install(requestContext(request), request.params.org, request.body.templates),
    }),
  );
}

export { Rule };
