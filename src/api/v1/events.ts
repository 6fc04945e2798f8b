import { setTimeout as sleep } from 'node:timers/promises';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../../errors/app-error.ts';
import { EVENT_TYPES } from '../../events/catalogue.ts';
import { OrgParams } from '../../http/schemas.ts';
import type { Services } from '../../services.ts';
import { AuditEvent } from './audit-logs.ts';

const POLL_MS = 200;

const StreamEvent = Type.Object(
  {
    cursor: Type.String({
      description: 'Position in the stream; pass as `after` to continue from this event.',
    }),
    // The same event shape as the audit log, plus the stream position.
    ...AuditEvent.properties,
  },
  { additionalProperties: false },
);

export default function eventRoutes(app: FastifyInstance, s: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/v1/event-types',
    {
      schema: {
        tags: ['Events'],
        summary: 'The event catalogue',
        description:
          'Every event type Latchkey emits, with the JSON schema of its `data`. Webhook filters and the pull API take these types (or `prefix.*` wildcards).',
        response: {
          200: Type.Object({
            data: Type.Array(
              Type.Object({
                type: Type.String(),
                group: Type.String(),
                description: Type.String(),
                schema: Type.Unknown({ description: 'JSON schema of `data`.' }),
              }),
            ),
          }),
        },
      },
    },
    async () => ({
      data: EVENT_TYPES.map((e) => ({
        type: e.type,
        group: e.group,
        description: e.description,
        schema: JSON.parse(JSON.stringify(e.data)) as unknown,
      })),
    }),
  );

  r.get(
    '/v1/organizations/:org/events',
    {
      config: { permission: 'events:read' },
      schema: {
        tags: ['Events'],
        summary: 'Pull the event stream',
        description:
          'Events in commit order after the cursor `after` (from the start when omitted). Keep the last `nextCursor` and pass it as `after` next time: no event is skipped, even when transactions commit out of order. With `wait` (seconds, at most 30) an empty answer is held until an event arrives or the time is up (long poll).',
        params: OrgParams,
        querystring: Type.Object(
          {
            after: Type.Optional(
              Type.String({
                pattern: '^\\d{1,18}$',
                description: 'A `cursor` or `nextCursor` from an earlier answer.',
              }),
            ),
            types: Type.Optional(
              Type.String({ maxLength: 1000, description: 'Comma-separated types or `prefix.*` wildcards.' }),
            ),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
            wait: Type.Optional(Type.Integer({ minimum: 0, maximum: 30, default: 0 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object(
            {
              data: Type.Array(StreamEvent),
              nextCursor: Type.String({
                description: 'Pass as `after` to continue; unchanged when nothing new arrived.',
              }),
            },
            { additionalProperties: false },
          ),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const types = (q.types ?? '')
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== '');
      for (const t of types) {
        if (!/^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)$/.test(t)) {
          throw new AppError('validation_failed', `${t} is not an event type or wildcard`, {
            errors: [{ location: '/query/types', message: `${t} is not an event type or wildcard` }],
          });
        }
      }
      const filterTypes = types.includes('*') ? [] : types;
      const afterPos = Number(q.after ?? '0');
      const limit = q.limit ?? 100;
      const deadline = performance.now() + (q.wait ?? 0) * 1000;
      await s.batch.flush();
      for (;;) {
        await s.events.drain();
        const entries = await s.store.outbox.streamAfter(request.params.org, {
          afterPos,
          types: filterTypes,
          limit,
        });
        if (entries.length > 0 || performance.now() >= deadline || request.raw.destroyed) {
          const last = entries[entries.length - 1];
          return {
            data: entries.map(({ pos, event }) => {
              const { seq: _seq, ...rest } = event;
              return { cursor: String(pos), ...rest };
            }),
            nextCursor: last ? String(last.pos) : String(afterPos),
          };
        }
        await sleep(Math.min(POLL_MS, Math.max(0, deadline - performance.now())));
      }
    },
  );
}
