import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import './http/route-config.ts';
import systemRoutes from './api/system.ts';
import alertChannelRoutes, { AlertChannel } from './api/v1/alert-channels.ts';
import apiKeyPolicyRoutes from './api/v1/api-key-policy.ts';
import apiKeyRoutes, { ApiKey } from './api/v1/api-keys.ts';
import auditRoutes, { AuditEvent } from './api/v1/audit-logs.ts';
import clientRoutes, { OAuthClient } from './api/v1/clients.ts';
import detectionRoutes from './api/v1/detection.ts';
import eventRoutes from './api/v1/events.ts';
import keyVerifyRoutes from './api/v1/keys-verify.ts';
import meRoutes from './api/v1/me.ts';
import oauthSettingsRoutes from './api/v1/oauth-settings.ts';
import organizationRoutes, { Organization } from './api/v1/organizations.ts';
import roleRoutes, { Role } from './api/v1/roles.ts';
import ruleRoutes, { Rule } from './api/v1/rules.ts';
import secretScanningRoutes from './api/v1/secret-scanning.ts';
import sessionRoutes from './api/v1/sessions.ts';
import signingKeyRoutes from './api/v1/signing-keys.ts';
import userCredentialRoutes from './api/v1/user-credentials.ts';
import userRoutes, { User } from './api/v1/users.ts';
import webauthnRoutes from './api/v1/webauthn.ts';
import webhookRoutes, { WebhookDelivery, WebhookEndpoint } from './api/v1/webhooks.ts';
import type { Config } from './config/schema.ts';
import { newId } from './crypto/ids.ts';
import { openApiWebhooks } from './events/docs.ts';
import type { AccessTokenVerifier } from './http/authenticate.ts';
import { registerErrorHandling } from './http/errors.ts';
import { registerGate } from './http/gate.ts';
import { registerMetrics } from './http/metrics.ts';
import { describeRoutes, type RouteInfo } from './http/openapi.ts';
import { Problem } from './http/schemas.ts';
import { registerValidation } from './http/validation.ts';
import { createIpMatcher } from './net/cidr.ts';
import { registerHostedLogin } from './oidc/interactions.ts';
import { mountOidc } from './oidc/mount.ts';
import type { Services } from './services.ts';

export interface AppOptions {
  config: Readonly<Config>;
  services: Services;
  /** TLS material for `latchkey serve`; tests use `inject()` instead. */
  https?: { key: string | Buffer; cert: string | Buffer };
  /** Only for tests driving the app through `inject()` without TLS. */
  allowInjectedPlainHttp?: boolean;
  logger?: FastifyServerOptions['logger'];
  tokens?: AccessTokenVerifier;
}

declare module 'fastify' {
  interface FastifyInstance {
    latchkey: { services: Services; routes: RouteInfo[] };
  }
}

/** Shared component schemas, referenced by `$ref` from routes and listed in the OpenAPI document. */
const SHARED_SCHEMAS = [
  Problem,
  ApiKey,
  User,
  Role,
  Organization,
  AuditEvent,
  WebhookEndpoint,
  WebhookDelivery,
  Rule,
  AlertChannel,
  OAuthClient,
];

/** Redacted wherever they appear in a log line: no secret is ever logged. */
export const REDACT = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.key',
  '*.secret',
  '*.password',
  '*.token',
];

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, services } = options;
  const isTrustedProxy = createIpMatcher(config.trustProxy);
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy.length > 0 ? [...config.trustProxy] : false,
    genReqId: () => newId('req'),
    requestIdHeader: false,
    ...(options.https ? { https: { key: options.https.key, cert: options.https.cert } } : {}),
    routerOptions: { ignoreTrailingSlash: true },
  }) as unknown as FastifyInstance;

  const routes: RouteInfo[] = [];
  app.decorate('latchkey', { services, routes });
  registerValidation(app, SHARED_SCHEMAS);
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  registerErrorHandling(app);
  describeRoutes(app, routes);
  // Both attach route-level hooks as routes are registered, so they come before any route (/docs included).
  registerGate(app, {
    allowInjectedPlainHttp: options.allowInjectedPlainHttp ?? false,
    isTrustedProxy,
    ipBlocks: services.ipBlocks,
    apiKeys: services.apiKeys,
    tokens: options.tokens,
    now: () => services.clock.nowMs(),
  });
  const metrics = registerMetrics(app);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Latchkey API',
        version: '1',
        description:
          'API-first identity and access management. Every route but health, metrics and discovery needs a credential: `Authorization: Bearer <key>`, `Authorization: ApiKey <key>` or `X-API-Key: <key>`. Errors are RFC 9457 problem+json bodies with a stable `code`.',
      },
      servers: [{ url: config.publicUrl }],
      // OpenAPI 3.1 `webhooks`: what Latchkey POSTs to endpoints, one entry per event type (src/events/catalogue.ts).
      webhooks: openApiWebhooks() as never, // plain JSON schema objects, which the PathItemObject typing does not describe
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'An API key (`ak_live_…`) or an OAuth access token (JWT).',
          },
          apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          secretScanningSignature: {
            type: 'apiKey',
            in: 'header',
            name: 'Github-Public-Key-Signature',
            description:
              'ECDSA P-256 signature (base64 DER) of the raw body, by the key named in `Github-Public-Key-Identifier` (configured in `LATCHKEY_SECRET_SCANNING_KEYS`).',
          },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true }, logLevel: 'warn' });

  systemRoutes(app, services, metrics);
  meRoutes(app, services);
  organizationRoutes(app, services);
  userRoutes(app, services);
  roleRoutes(app, services);
  apiKeyRoutes(app, services);
  apiKeyPolicyRoutes(app, services);
  keyVerifyRoutes(app, services);
  secretScanningRoutes(app, services);
  auditRoutes(app, services);
  eventRoutes(app, services);
  webhookRoutes(app, services);
  ruleRoutes(app, services);
  alertChannelRoutes(app, services);
  detectionRoutes(app, services);
  clientRoutes(app, services);
  signingKeyRoutes(app, services);
  userCredentialRoutes(app, services);
  sessionRoutes(app, services);
  oauthSettingsRoutes(app, services);
  webauthnRoutes(app, services);
  await registerHostedLogin(app, services);
  await mountOidc(app, services.oauth.engines);

  await app.ready();
  return app;
}
