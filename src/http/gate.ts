import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onRequestHookHandler,
  RouteOptions,
} from 'fastify';
import type { IpBlockList } from '../domain/detection/ip-blocks.ts';
import { isPromise, type MaybePromise } from '../domain/shared/maybe-promise.ts';
import type { RequestContext } from '../domain/shared/types.ts';
import { type AuthenticationDeps, authenticateRequest, orgParam } from './authenticate.ts';
import { requestOrigin } from './context.ts';
import { type HttpsOnlyOptions, requireHttps } from './https-only.ts';
import { refuseBlockedIp } from './ip-blocking.ts';
import { routeHooks } from './route-config.ts';

/** A route's gate settings, read from its config once, when the route is registered. */
export interface RouteGate {
  auth: 'none' | 'required';
  permission: string | undefined;
  scim: boolean;
  /** The route's URL pattern (never the raw URL: ids and query strings stay out of records). */
  url: string;
  /** `METHOD /pattern` for audit records; undefined for multi-method routes (built per request). */
  endpoint: string | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The gate of the matched route (undefined for unmatched URLs). */
    gate: RouteGate | undefined;
    /** Source IP, user agent, request id and endpoint; built once by the gate. */
    origin: Omit<RequestContext, 'actor'> | undefined;
  }
}

export interface GateDeps extends AuthenticationDeps, HttpsOnlyOptions {
  ipBlocks: IpBlockList;
}

/**
 * The request gate, the first hook of every route, before the body is read:
 * HTTPS only, then (for routes that need a credential) the IP block list,
 * then authentication and the route's permission.
 *
 * It is one route-level `onRequest` hook, attached when each route is
 * registered (`onRoute`), rather than three global hooks: the route's settings
 * are captured in a closure, so no request reads `request.routeOptions` (a
 * getter that builds a fresh 14-field object on every access), and each step
 * answers synchronously from memory (IP blocks, cached keys) and only goes
 * asynchronous when it must wait. Measured with `npm run bench:api-keys`;
 * see docs/api-keys.md ("How verification stays fast").
 */
export function registerGate(app: FastifyInstance, deps: GateDeps): void {
  app.decorateRequest('gate', undefined);
  app.decorateRequest('origin', undefined);
  app.decorateRequest('principal', undefined);
  app.addHook('onRoute', (route: RouteOptions) => {
    const config = route.config ?? {};
    const gate: RouteGate = {
      auth: config.auth ?? 'required',
      permission: config.permission,
      scim: config.scim ?? false,
      url: route.url,
      endpoint: typeof route.method === 'string' ? `${route.method} ${route.url}` : undefined,
    };
    const hook: onRequestHookHandler = (request, reply, done) => {
      let pending: MaybePromise<void>;
      try {
        pending = pass(request, reply, gate, deps);
      } catch (error) {
        done(error as Error);
        return;
      }
      if (isPromise(pending)) pending.then(() => done(), done as (error: Error) => void);
      else done();
    };
    route.onRequest = [hook, ...routeHooks(route.onRequest)];
  });
}

function pass(
  request: FastifyRequest,
  reply: FastifyReply,
  gate: RouteGate,
  deps: GateDeps,
): MaybePromise<void> {
  request.gate = gate;
  requireHttps(request, deps);
  if (gate.auth === 'none') return;
  const origin = requestOrigin(request);
  const blocked = refuseBlockedIp(deps.ipBlocks, origin.ip, orgParam(request), deps.now);
  if (isPromise(blocked)) return blocked.then(() => authenticateRequest(request, reply, gate, origin, deps));
  return authenticateRequest(request, reply, gate, origin, deps);
}
