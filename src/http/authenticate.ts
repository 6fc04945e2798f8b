import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RateDecision } from '../domain/api-keys/rate-limiter.ts';
import type { ApiKeyService } from '../domain/api-keys/service.ts';
import type { KeyCheck } from '../domain/api-keys/verification.ts';
import type { Principal } from '../domain/auth/principal.ts';
import { isPromise, type MaybePromise } from '../domain/shared/maybe-promise.ts';
import type { RequestContext } from '../domain/shared/types.ts';
import { AppError } from '../errors/app-error.ts';

/** Verifies bearer JWTs (OAuth access tokens); plugged in by the OAuth module. */
export interface AccessTokenVerifier {
  verify(token: string, request: FastifyRequest): Promise<Principal | undefined>;
}

const KEY_LIKE = /(^|[^a-z])(ak_live_|ak_test_|scim_)/i;
const CREDENTIAL_PARAMS = new Set([
  'api_key',
  'apikey',
  'api-key',
  'key',
  'access_token',
  'token',
  'x-api-key',
]);

function keyInQuery(request: FastifyRequest): boolean {
  const query = request.query as Record<string, unknown> | undefined;
  if (!query || typeof query !== 'object') return false;
  for (const name in query) {
    const value = query[name];
    if (CREDENTIAL_PARAMS.has(name.toLowerCase()) || (typeof value === 'string' && KEY_LIKE.test(value))) {
      return true;
    }
  }
  return false;
}

/** `Authorization: Bearer …`, `Authorization: ApiKey …` or `X-API-Key: …`; undefined when absent. */
export function extractCredential(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && header.length > 0) {
    const value = header.trim();
    // The scheme is case-insensitive (RFC 9110); a header without one is taken as the credential itself.
    const space = value.search(/\s/);
    if (space > 0 && SCHEME.test(value.slice(0, space))) return value.slice(space + 1).trim();
    return value;
  }
  const apiKey = request.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.length > 0) return apiKey.trim();
  return undefined;
}

const SCHEME = /^(?:Bearer|ApiKey)$/i;

function looksLikeJwt(token: string): boolean {
  return token.startsWith('eyJ') && token.split('.').length === 3;
}

export interface AuthenticationDeps {
  apiKeys: ApiKeyService;
  tokens?: AccessTokenVerifier | undefined;
  now: () => number;
}

/** What a route requires of its caller (its config, read once when the route is registered). */
export interface RouteRequirements {
  permission: string | undefined;
  scim: boolean;
}

/**
 * The credential step of the request gate (src/http/gate.ts), before the body
 * is read: the credential, then the organization scope (another
 * organization's objects answer 404), then the permission the route declares
 * (403 naming it). Sets `request.principal`; throws (or rejects with) the
 * problem otherwise. A cached API key is decided synchronously.
 */
export function authenticateRequest(
  request: FastifyRequest,
  reply: FastifyReply,
  route: RouteRequirements,
  ctx: Omit<RequestContext, 'actor'>,
  deps: AuthenticationDeps,
): MaybePromise<void> {
  if (keyInQuery(request)) {
    throw new AppError(
      'api_key_in_query',
      'Send credentials in the Authorization or X-API-Key header, never in the URL; rotate a key that was put in a URL',
    );
  }
  const credential = extractCredential(request);
  if (credential === undefined) {
    throw new AppError('missing_credentials', 'Send a key as Authorization: Bearer <key>', {
      headers: { 'www-authenticate': 'Bearer realm="latchkey", ApiKey realm="latchkey"' },
    });
  }
  if (looksLikeJwt(credential)) {
    if (!deps.tokens) throw new AppError('invalid_token', 'The access token is invalid or expired');
    return deps.tokens.verify(credential, request).then((principal) => {
      if (!principal) throw new AppError('invalid_token', 'The access token is invalid or expired');
      admit(request, route, principal);
    });
  }
  const result = deps.apiKeys.authenticate(credential, ctx);
  if (isPromise(result))
    return result.then((r) => settleKey(request, reply, route, ctx, deps, credential, r));
  settleKey(request, reply, route, ctx, deps, credential, result);
}

function settleKey(
  request: FastifyRequest,
  reply: FastifyReply,
  route: RouteRequirements,
  ctx: Omit<RequestContext, 'actor'>,
  deps: AuthenticationDeps,
  credential: string,
  result: KeyCheck,
): void {
  if (result.rate) setRateHeaders(reply, result.rate, deps.now());
  if (!result.ok) {
    const orgInPath = orgParam(request);
    deps.apiKeys.recordFailure(credential, result.code, ctx, {
      record: result.record,
      organizationId: orgInPath !== undefined && ORG_ID.test(orgInPath) ? orgInPath : undefined,
    });
    if (result.code === 'rate_limited' && result.rate) {
      const retryAfter = Math.max(1, Math.ceil((result.rate.resetAt - deps.now()) / 1000));
      throw new AppError('rate_limited', `This key allows ${result.rate.limit} requests per window`, {
        headers: { 'retry-after': String(retryAfter) },
      });
    }
    throw new AppError(result.code, failureDetail(result.code));
  }
  admit(request, route, result.principal);
}

function admit(request: FastifyRequest, route: RouteRequirements, principal: Principal): void {
  request.principal = principal;
  const org = orgParam(request);
  if (org !== undefined && org !== principal.organizationId) {
    throw new AppError('not_found', 'No such organization');
  }
  if (principal.scimOnly && !route.scim) {
    throw new AppError('permission_denied', 'scim_ keys can only reach SCIM endpoints');
  }
  if (route.permission && !principal.permissions.has(route.permission)) {
    throw new AppError('permission_denied', `This route requires the permission ${route.permission}`);
  }
}

const ORG_ID = /^org_[0-9a-z]{26}$/;

/** The `:org` path parameter, when the route has one. */
export function orgParam(request: FastifyRequest): string | undefined {
  const org = (request.params as Record<string, unknown> | undefined)?.org;
  return typeof org === 'string' ? org : undefined;
}

/** IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers): limit, remaining, seconds to reset. */
function setRateHeaders(reply: FastifyReply, rate: RateDecision, now: number): void {
  reply.header('ratelimit-limit', String(rate.limit));
  reply.header('ratelimit-remaining', String(rate.remaining));
  reply.header('ratelimit-reset', String(Math.max(0, Math.ceil((rate.resetAt - now) / 1000))));
}

function failureDetail(code: string): string {
  switch (code) {
    case 'ip_not_allowed':
      return "The request's source address is not in this key's IP allowlist";
    case 'malformed_api_key':
      return 'The key is not a well-formed Latchkey key (prefix, length or checksum)';
    case 'invalid_api_key':
      return 'No such API key';
    case 'api_key_revoked':
      return 'This API key has been revoked';
    default:
      return 'This API key has expired';
  }
}
