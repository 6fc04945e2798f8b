import type { Config } from './config/schema.ts';
import { createKeyHasher } from './crypto/key-hash.ts';
import type { MasterKey } from './crypto/master-key.ts';
import { createSecretBox } from './crypto/secret-box.ts';
import { createApiKeyService } from './domain/api-keys/service.ts';
import { createBatchWriter } from './domain/audit/batch-writer.ts';
import { createAuditSealer } from './domain/audit/seals.ts';
import { createAuditService } from './domain/audit/service.ts';
import { createOrganizationService } from './domain/organizations/service.ts';
import { createRoleService } from './domain/roles/service.ts';
import type { Clock } from './domain/shared/clock.ts';
import { createUserService } from './domain/users/service.ts';
import { createOAuthModule } from './oidc/module.ts';
import type { Store } from './store/store.ts';

/** The composition of every domain service, wired once; routes and the CLI receive this. */
export function createServices(deps: {
  store: Store;
  clock: Clock;
  masterKey: MasterKey;
  config: Pick<Config, 'usageFlushInterval' | 'publicUrl' | 'trustProxy' | 'outboundAllowlist'>;
  onBackgroundError?: (error: unknown) => void;
}) {
  const { store, clock, masterKey } = deps;
  const batch = createBatchWriter({
    store,
    intervalMs: deps.config.usageFlushInterval,
    onError: deps.onBackgroundError,
  });
  const apiKeys = createApiKeyService({ store, clock, hashKey: createKeyHasher(masterKey), batch });
  const secretBox = createSecretBox(masterKey);
  const roles = createRoleService({ store, clock });
  return {
    store,
    clock,
    batch,
    secretBox,
    apiKeys,
    organizations: createOrganizationService({ store, clock, apiKeys }),
    users: createUserService({ store, clock }),
    roles,
    oauth: createOAuthModule({
      store,
      clock,
      masterKey,
      secretBox,
      roles,
      publicUrl: deps.config.publicUrl,
      proxy: deps.config.trustProxy.length > 0,
      outboundAllowlist: deps.config.outboundAllowlist,
    }),
    audit: createAuditService({ store }),
    sealer: createAuditSealer({ store, clock }),
  };
}

export type Services = ReturnType<typeof createServices>;
