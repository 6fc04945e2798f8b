import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../errors/app-error.ts';
import type { Metrics } from '../http/metrics.ts';
import type { Services } from '../services.ts';

/** Health, readiness and metrics: no credentials, nothing private (no versions, hosts or counts of data). */
export default function systemRoutes(app: FastifyInstance, s: Services, metrics: Metrics): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const open = { auth: 'none' as const };
  const tags = ['System'];

  r.get(
    '/healthz',
    {
      config: open,
      schema: { tags, summary: 'Liveness', response: { 200: Type.Object({ status: Type.Literal('ok') }) } },
    },
    async () => ({ status: 'ok' as const }),
  );

  r.get(
    '/readyz',
    {
      config: open,
      schema: {
        tags,
        summary: 'Readiness: the database answers',
        response: {
          200: Type.Object({ status: Type.Literal('ready') }),
          503: Type.Ref('Problem'),
        },
      },
    },
    async () => {
      try {
        await s.store.ping();
      } catch {
        throw new AppError('not_ready', 'The database does not answer');
      }
      return { status: 'ready' as const };
    },
  );

  r.get(
    '/metrics',
    {
      config: open,
      schema: {
        tags,
        summary: 'Prometheus metrics',
        produces: ['text/plain'],
        response: { 200: Type.String() },
      },
    },
    async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()),
  );

  r.get(
    '/openapi.json',
    {
      config: open,
      schema: { tags, summary: 'This OpenAPI 3.1 document', hide: true },
    },
    async () => app.swagger(),
  );
}
