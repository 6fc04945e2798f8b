import type { FastifyInstance, RouteOptions } from 'fastify';

export interface RouteInfo {
  method: string;
  url: string;
  auth: 'none' | 'required';
  permission: string | undefined;
  scim: boolean;
  /** JSON schema of the path parameters, so tests can build valid ids for any route. */
  params: { properties?: Record<string, { pattern?: string }> } | undefined;
}

const problem = (description: string) => ({ description, $ref: 'Problem#' });

/**
 * Every route gets, by construction, the security and error responses its
 * config implies, so the OpenAPI document cannot forget them; the route
 * table it builds drives the auth-matrix test.
 */
export function describeRoutes(app: FastifyInstance, routes: RouteInfo[]): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.url.startsWith('/docs')) {
      route.config = { ...(route.config ?? {}), auth: 'none' };
      route.schema = { ...(route.schema ?? {}), hide: true };
      return;
    }
    const config = (route.config ?? {}) as {
      auth?: 'none' | 'required';
      permission?: string;
      scim?: boolean;
    };
    const auth = config.auth ?? 'required';
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD') continue;
      routes.push({
        method,
        url: route.url,
        auth,
        permission: config.permission,
        scim: config.scim ?? false,
        params: (route.schema?.params as RouteInfo['params']) ?? undefined,
      });
    }
    const schema = (route.schema ?? {}) as Record<string, unknown> & { response?: Record<string, unknown> };
    const response: Record<string, unknown> = { ...(schema.response ?? {}) };
    if (auth === 'required') {
      schema.security = [{ bearer: [] }, { apiKeyHeader: [] }];
      response['400'] ??= problem('Bad request: malformed JSON, or a key sent in the query string');
      response['401'] ??= problem('Missing, malformed, unknown, revoked or expired credential');
      response['403'] ??= problem(
        config.permission
          ? `The credential lacks \`${config.permission}\`, or HTTPS was not used`
          : 'HTTPS was not used',
      );
      if (route.url.includes(':')) response['404'] ??= problem('No such object in this organization');
      response['422'] ??= problem('The request does not match the schema');
      response['429'] ??= problem('Rate limited');
    } else {
      // A public route may declare its own scheme (a signed request, e.g. secret-scanning reports).
      schema.security ??= [];
    }
    if (schema.body) {
      response['413'] ??= problem('Body larger than the configured limit');
      response['415'] ??= problem('Body is not application/json');
    }
    response['500'] ??= problem('Unexpected failure');
    schema.response = response;
    route.schema = schema;
  });
}
