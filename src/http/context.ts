import type { FastifyRequest } from 'fastify';
import type { Principal } from '../domain/auth/principal.ts';
import type { RequestContext } from '../domain/shared/types.ts';

/** Where a request came from: source IP (proxy-aware), user agent, request id, endpoint. Built once per request. */
export function requestOrigin(request: FastifyRequest): Omit<RequestContext, 'actor'> {
  if (request.origin) return request.origin;
  const gate = request.gate;
  const origin = {
    ip: request.ip ?? null,
    userAgent: request.headers['user-agent']?.slice(0, 512) ?? null,
    requestId: String(request.id),
    endpoint: gate
      ? (gate.endpoint ?? `${request.method} ${gate.url}`)
      : `${request.method} ${request.url.split('?')[0]}`,
  };
  request.origin = origin;
  return origin;
}

/** The audit context of a request: actor, source IP (proxy-aware), user agent, request id. */
export function requestContext(request: FastifyRequest): RequestContext {
  const p = request.principal;
  return {
    ...requestOrigin(request),
    actor: p
      ? { type: p.type, id: p.id, display: p.display }
      : { type: 'anonymous', id: null, display: null },
  };
}

/** The principal of an authenticated route (the authenticate hook guarantees it). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route declared auth: required but no principal was set');
  return request.principal;
}
