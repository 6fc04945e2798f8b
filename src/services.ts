import type { Config } from './config/schema.ts';
import { newId } from './crypto/ids.ts';
import { createKeyHasher } from './crypto/key-hash.ts';
import type { MasterKey } from './crypto/master-key.ts';
import { createSecretBox } from './crypto/secret-box.ts';
import { parseSecretScanningKeys } from './crypto/secret-scanning-keys.ts';
import { createAlertService } from './domain/alerts/service.ts';
import type { KeyInvalidationBus } from './domain/api-keys/invalidation.ts';
import { createApiKeyPolicyService } from './domain/api-keys/policy-service.ts';
import type { RateLimiter } from './domain/api-keys/rate-limiter.ts';
import { createApiKeyService } from './domain/api-keys/service.ts';
import { createKeySweeper } from './domain/api-keys/sweeper.ts';
import { createBatchWriter } from './domain/audit/batch-writer.ts';
import { createAuditSealer } from './domain/audit/seals.ts';
import { createAuditService } from './domain/audit/service.ts';
import { createIpBlockList } from './domain/detection/ip-blocks.ts';
import { createOrganizationService } from './domain/organizations/service.ts';
import { createRoleService } from './domain/roles/service.ts';
import { createRulesRuntime } from './domain/rules/runtime.ts';
import { createSecretScanningService } from './domain/secret-scanning/service.ts';
import { type Clock, systemClock } from './domain/shared/clock.ts';
import type { InvalidationBus } from './domain/shared/invalidation.ts';
import { createUserService } from './domain/users/service.ts';
import { createWebhookDispatcher } from './domain/webhooks/dispatcher.ts';
import { webhookFanOut } from './domain/webhooks/fanout.ts';
import { createWebhookService } from './domain/webhooks/service.ts';
import { createDispatcherLoop } from './events/dispatcher-loop.ts';
import { createEventPipeline } from './events/pipeline.ts';
import type { OutboundHttp } from './net/outbound.ts';
import { createOutboundHttp } from './net/outbound-http.ts';
import { createOAuthModule } from './oidc/module.ts';
import type { Store } from './store/store.ts';

/** The composition of every domain service, wired once; routes and the CLI receive this. */
export function createServices(deps: {
  store: Store;
  clock: Clock;
  masterKey: MasterKey;
  config: Pick<Config, 'usageFlushInterval'> &
    Partial<
      Pick<
        Config,
        | 'outboundAllowlist'
        | 'dispatchInterval'
        | 'rulesWarmup'
        | 'secretScanningKeys'
        | 'publicUrl'
        | 'trustProxy'
      >
    >;
  /** Shared rate-limit counters (Redis) for several nodes; in memory when absent. */
  rateLimiter?: RateLimiter;
  /** Cross-node cache invalidation (Redis pub/sub) when several nodes serve one database. */
  keyInvalidation?: KeyInvalidationBus;
  /** The same for an organization's OAuth engine, signing keys and settings. */
  oauthInvalidation?: InvalidationBus;
  onBackgroundError?: (error: unknown) => void;
  /** Replaces the SSRF-guarded client built from `outboundAllowlist` (tests). */
  outbound?: OutboundHttp;
}) {
  const { store, clock, masterKey } = deps;
  const batch = createBatchWriter({
    store,
    intervalMs: deps.config.usageFlushInterval,
    onError: deps.onBackgroundError,
  });
  const apiKeys = createApiKeyService({
    store,
    clock,
    hashKey: createKeyHasher(masterKey),
    batch,
    ...(deps.rateLimiter ? { limiter: deps.rateLimiter } : {}),
    ...(deps.keyInvalidation ? { bus: deps.keyInvalidation } : {}),
  });
  const secretBox = createSecretBox(masterKey);
  const roles = createRoleService({ store, clock });
  const outbound = deps.outbound ?? createOutboundHttp({ allowlist: deps.config.outboundAllowlist ?? [] });
  const events = createEventPipeline({ store, clock, holder: newId('dsp') });
  const webhookDispatcher = createWebhookDispatcher({
    store,
    clock,
    sendClock: systemClock,
    outbound,
    secretBox,
  });
  events.subscribe(webhookFanOut({ clock }));
  const dispatcher = createDispatcherLoop({
    pipeline: events,
    webhooks: webhookDispatcher,
    intervalMs: deps.config.dispatchInterval,
    onError: deps.onBackgroundError,
  });
  const users = createUserService({ store, clock });
  // Alert channels and rule webhooks go out through the same SSRF-guarded client as webhooks.
  const http = () => outbound;
  const alerts = createAlertService({ store, clock, secretBox, http });
  const ipBlocks = createIpBlockList({ store, clock });
  const oauth = createOAuthModule({
    store,
    clock,
    masterKey,
    secretBox,
    roles,
    publicUrl: deps.config.publicUrl ?? 'https://localhost:8443',
    proxy: (deps.config.trustProxy ?? []).length > 0,
    outboundAllowlist: deps.config.outboundAllowlist ?? [],
    ...(deps.oauthInvalidation ? { bus: deps.oauthInvalidation } : {}),
  });
  const rules = createRulesRuntime({
    store,
    clock,
    apiKeys,
    users,
    alerts,
    ipBlocks,
    http,
    // Rules that terminate sessions end the user's hosted-login sessions (and their refresh tokens).
    sessions: {
      terminateAll: (ctx, organizationId, userId) => oauth.sessions.revokeAll(ctx, organizationId, userId),
    },
    warmupMs: (deps.config.rulesWarmup ?? 3600) * 1000,
    onError: deps.onBackgroundError,
  });
  return {
    store,
    clock,
    batch,
    secretBox,
    outbound,
    events,
    dispatcher,
    webhookDispatcher,
    webhooks: createWebhookService({ store, clock, secretBox, outbound, dispatcher: webhookDispatcher }),
    apiKeys,
    organizations: createOrganizationService({ store, clock, apiKeys }),
    users,
    roles,
    oauth,
    audit: createAuditService({ store }),
    sealer: createAuditSealer({ store, clock }),
    alerts,
    ipBlocks,
    rules,
    apiKeyPolicies: createApiKeyPolicyService({ store, clock }),
    apiKeySweeper: createKeySweeper({ store, clock, invalidate: apiKeys.invalidate }),
    secretScanning: createSecretScanningService({
      store,
      clock,
      apiKeys,
      publicKeys: parseSecretScanningKeys(deps.config.secretScanningKeys).keys,
    }),
  };
}

export type Services = ReturnType<typeof createServices>;
