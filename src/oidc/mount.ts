import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Engines } from './engine.ts';

const METHODS = ['GET', 'POST', 'OPTIONS', 'DELETE', 'PUT', 'PATCH'] as const;

/**
 * Mounts every organization's oidc-provider (a Koa app) under
 * `/oidc/:org/…`. The routes live in an encapsulated plugin whose content-type
 * parser leaves the body stream unread, so the engine parses its own form
 * posts; the reply is hijacked and the engine writes the raw response.
 * Protocol endpoints keep RFC 6749 error bodies, hence outside problem+json.
 */
export async function mountOidc(app: FastifyInstance, engines: Engines): Promise<void> {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

    scope.route({
      method: [...METHODS],
      url: '/oidc/:org/*',
      config: { auth: 'none' },
      schema: { hide: true },
      handler: async (request, reply) => {
        const { org } = request.params as { org: string };
        const engine = await engines.get(org);
        if (!engine) {
          return reply
            .code(404)
            .type('application/json')
            .send({ error: 'not_found', error_description: 'No such issuer' });
        }
        const raw = request.raw as IncomingMessage & { originalUrl?: string };
        const prefix = `/oidc/${org}`;
        const original = raw.url ?? '/';
        // oidc-provider derives its mount path from originalUrl minus url (like koa-mount).
        raw.originalUrl = original;
        raw.url = original.slice(prefix.length) || '/';
        reply.hijack();
        engine.handle(raw, reply.raw);
      },
    });
  });
}
