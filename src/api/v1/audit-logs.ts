import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { Cursor, Limit, OrgParams, pageOf, Timestamp } from '../../http/schemas.ts';
import type { Services } from '../../services.ts';
import type { StoredEvent } from '../../store/repos/events.ts';

export const AuditEvent = Type.Object(
  {
    id: Type.String({ description: 'Time-ordered event id (`evt_…`).' }),
    organizationId: Type.String(),
    type: Type.String({
      description: 'Dotted noun and verb: `user.created`, `api_key.revoked`, `auth.failed`, …',
    }),
    time: Timestamp,
    actor: Type.Object({
      type: Type.String(),
      id: Type.Union([Type.String(), Type.Null()]),
      display: Type.Union([Type.String(), Type.Null()]),
    }),
    target: Type.Union([Type.Object({ type: Type.String(), id: Type.String() }), Type.Null()]),
    outcome: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
    ip: Type.Union([Type.String(), Type.Null()]),
    userAgent: Type.Union([Type.String(), Type.Null()]),
    requestId: Type.Union([Type.String(), Type.Null()]),
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { $id: 'AuditEvent', title: 'AuditEvent' },
);

const Filters = {
  type: Type.Optional(
    Type.String({ maxLength: 100, description: 'Exact type, or a prefix wildcard such as `api_key.*`.' }),
  ),
  actorId: Type.Optional(Type.String({ maxLength: 100 })),
  targetId: Type.Optional(Type.String({ maxLength: 100 })),
  outcome: Type.Optional(Type.Union([Type.Literal('success'), Type.Literal('failure')])),
};

/** Accepts `2026-01-01` as well as full timestamps (seed 004 uses bare dates). */
function normalizeDate(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00.000Z` : value).toISOString();
}

function toDto(e: StoredEvent) {
  const { seq: _seq, ...rest } = e;
  return rest;
}

export default function auditRoutes(app: FastifyInstance, s: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['Audit log'];
  const DateOrDateTime = {
    anyOf: [
      { type: 'string', format: 'date' },
      { type: 'string', format: 'date-time' },
    ],
  };
  const query = (extra: Record<string, unknown>) =>
    Type.Object(
      {
        ...Filters,
        startDate: Type.Optional(
          Type.Unsafe<string>({
            ...DateOrDateTime,
            description: 'Inclusive lower bound: a date (midnight UTC) or an ISO 8601 date-time.',
          }),
        ),
        endDate: Type.Optional(
          Type.Unsafe<string>({
            ...DateOrDateTime,
            description: 'Exclusive upper bound: a date (midnight UTC) or an ISO 8601 date-time.',
          }),
        ),
        ...extra,
      },
      { additionalProperties: false },
    );

  r.get(
    '/v1/organizations/:org/audit-logs',
    {
      config: { permission: 'audit:read' },
      schema: {
        tags,
        summary: 'Search the audit log',
        description:
          'Newest first. Every change and every security decision is here, with actor, target, IP and outcome.',
        params: OrgParams,
        querystring: query({ cursor: Type.Optional(Cursor), limit: Type.Optional(Limit) }),
        response: { 200: pageOf(Type.Ref('AuditEvent')) },
      },
    },
    async (request) => {
      const q = request.query as Record<string, string | number | undefined>;
      await s.batch.flush();
      const page = await s.audit.list(request.params.org, {
        startDate: normalizeDate(q.startDate as string | undefined),
        endDate: normalizeDate(q.endDate as string | undefined),
        type: q.type as string | undefined,
        actorId: q.actorId as string | undefined,
        targetId: q.targetId as string | undefined,
        outcome: q.outcome as 'success' | 'failure' | undefined,
        cursor: q.cursor as string | undefined,
        limit: (q.limit as number | undefined) ?? 50,
      });
      return { data: page.data.map(toDto), nextCursor: page.nextCursor };
    },
  );

  r.get(
    '/v1/organizations/:org/audit-logs/export',
    {
      config: { permission: 'audit:read' },
      schema: {
        tags,
        summary: 'Export the audit log as NDJSON',
        description:
          'Streams every matching event, one JSON object per line (`application/x-ndjson`), newest first, for SIEM ingestion.',
        params: OrgParams,
        querystring: query({}),
        produces: ['application/x-ndjson'],
        response: { 200: Type.String({ description: 'One AuditEvent JSON object per line.' }) },
      },
    },
    async (request, reply) => {
      const q = request.query as Record<string, string | undefined>;
      await s.batch.flush();
      const events = s.audit.export(request.params.org, {
        startDate: normalizeDate(q.startDate),
        endDate: normalizeDate(q.endDate),
        type: q.type,
        actorId: q.actorId,
        targetId: q.targetId,
        outcome: q.outcome as 'success' | 'failure' | undefined,
      });
      async function* lines() {
        for await (const e of events) yield `${JSON.stringify(toDto(e))}\n`;
      }
      reply
        .type('application/x-ndjson')
        .header('content-disposition', 'attachment; filename="audit-log.ndjson"');
      return reply.send(Readable.from(lines()) as unknown as string);
    },
  );
}
