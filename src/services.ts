import type { Config } from './config/schema.ts';
import { createKeyHasher } from './crypto/key-hash.ts';
import type { MasterKey } from './crypto/master-key.ts';
import { createSecretBox } from './crypto/secret-box.ts';
import { createAlertService } from './domain/alerts/service.ts';
import { createApiKeyService } from './domain/api-keys/service.ts';
import { createBatchWriter } from './domain/audit/batch-writer.ts';
import { createAuditSealer } from './domain/audit/seals.ts';
import { createAuditService } from './domain/audit/service.ts';
import { createIpBlockList } from './domain/detection/ip-blocks.ts';
import { createOrganizationService } from './domain/organizations/service.ts';
import { createRoleService } from './domain/roles/service.ts';
import { createRulesRuntime } from './domain/rules/runtime.ts';
import type { Clock } from './domain/shared/clock.ts';
import { createUserService } from './domain/users/service.ts';
import type { OutboundHttp } from './net/outbound.ts';
import { unconfiguredOutbound } from './net/outbound-unconfigured.ts';
import type { Store } from './store/store.ts';

/** The composition of every domain service, wired once; routes and the CLI receive this. */
export function createServices(deps: {
  store: Store;
  clock: Clock;
  masterKey: MasterKey;
  config: Pick<Config, 'usageFlushInterval'> & Partial<Pick<Config, 'rulesWarmup'>>;
  onBackgroundError?: (error: unknown) => void;
  /** Every outbound HTTP request (alert channels, rule webhooks) goes through this client. */
  outbound?: OutboundHttp;
}) {
  const { store, clock, masterKey } = deps;
  const batch = createBatchWriter({
    store,
    intervalMs: deps.config.usageFlushInterval,
    onError: deps.onBackgroundError,
  });
  const apiKeys = createApiKeyService({ store, clock, hashKey: createKeyHasher(masterKey), batch });
  const secretBox = createSecretBox(masterKey);
  const users = createUserService({ store, clock });
  const http = () => deps.outbound ?? unconfiguredOutbound;
  const alerts = createAlertService({ store, clock, secretBox, http });
  const ipBlocks = createIpBlockList({ store, clock });
  const rules = createRulesRuntime({
    store,
    clock,
    apiKeys,
    users,
    alerts,
    ipBlocks,
    http,
    warmupMs: (deps.config.rulesWarmup ?? 3600) * 1000,
    onError: deps.onBackgroundError,
  });
  return {
    store,
    clock,
    batch,
    secretBox,
    apiKeys,
    organizations: createOrganizationService({ store, clock, apiKeys }),
    users,
    roles: createRoleService({ store, clock }),
    audit: createAuditService({ store }),
    sealer: createAuditSealer({ store, clock }),
    alerts,
    ipBlocks,
    rules,
  };
}

export type Services = ReturnType<typeof createServices>;
