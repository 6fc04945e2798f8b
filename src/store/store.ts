import type { Kysely } from 'kysely';
import type { Db, Dialect } from './db.ts';
import { createAlertChannelsRepo } from './repos/alert-channels.ts';
import { createApiKeyPoliciesRepo } from './repos/api-key-policies.ts';
import { createApiKeysRepo } from './repos/api-keys.ts';
import { createAuditSealsRepo } from './repos/audit-seals.ts';
import { createCredentialsRepo } from './repos/credentials.ts';
import { createDetectionRepo } from './repos/detection.ts';
import { createEventsRepo } from './repos/events.ts';
import { createMetaRepo } from './repos/meta.ts';
import { createOAuthClientsRepo } from './repos/oauth-clients.ts';
import { createOidcPayloadsRepo } from './repos/oidc-payloads.ts';
import { createOrganizationsRepo } from './repos/organizations.ts';
import { createOutboxRepo } from './repos/outbox.ts';
import { createRolesRepo } from './repos/roles.ts';
import { createRuleEventsRepo, createRulesRepo } from './repos/rules.ts';
import { createSigningKeysRepo } from './repos/signing-keys.ts';
import { createUsersRepo } from './repos/users.ts';
import { createWebhooksRepo } from './repos/webhooks.ts';
import type { Database } from './schema.ts';

/**
 * Every repository, bound to one database handle. `transaction` hands the
 * callback the same set bound to a transaction, so a change and the event
 * describing it commit or roll back together.
 */
export interface Store {
  dialect: Dialect;
  organizations: ReturnType<typeof createOrganizationsRepo>;
  users: ReturnType<typeof createUsersRepo>;
  roles: ReturnType<typeof createRolesRepo>;
  apiKeys: ReturnType<typeof createApiKeysRepo>;
  apiKeyPolicies: ReturnType<typeof createApiKeyPoliciesRepo>;
  events: ReturnType<typeof createEventsRepo>;
  auditSeals: ReturnType<typeof createAuditSealsRepo>;
  meta: ReturnType<typeof createMetaRepo>;
  oidc: ReturnType<typeof createOidcPayloadsRepo>;
  oauthClients: ReturnType<typeof createOAuthClientsRepo>;
  signingKeys: ReturnType<typeof createSigningKeysRepo>;
  credentials: ReturnType<typeof createCredentialsRepo>;
  rules: ReturnType<typeof createRulesRepo>;
  ruleEvents: ReturnType<typeof createRuleEventsRepo>;
  alertChannels: ReturnType<typeof createAlertChannelsRepo>;
  detection: ReturnType<typeof createDetectionRepo>;
  outbox: ReturnType<typeof createOutboxRepo>;
  webhooks: ReturnType<typeof createWebhooksRepo>;
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
}

function bind(db: Kysely<Database>, dialect: Dialect, inTransaction: boolean): Store {
  const store: Store = {
    dialect,
    organizations: createOrganizationsRepo(db),
    users: createUsersRepo(db),
    roles: createRolesRepo(db),
    apiKeys: createApiKeysRepo(db),
    apiKeyPolicies: createApiKeyPoliciesRepo(db),
    events: createEventsRepo(db),
    auditSeals: createAuditSealsRepo(db, dialect),
    meta: createMetaRepo(db),
    oidc: createOidcPayloadsRepo(db),
    oauthClients: createOAuthClientsRepo(db),
    signingKeys: createSigningKeysRepo(db),
    credentials: createCredentialsRepo(db),
    rules: createRulesRepo(db),
    ruleEvents: createRuleEventsRepo(db),
    alertChannels: createAlertChannelsRepo(db),
    detection: createDetectionRepo(db),
    outbox: createOutboxRepo(db, dialect),
    webhooks: createWebhooksRepo(db, dialect),
    transaction: (fn) =>
      inTransaction ? fn(store) : db.transaction().execute((trx) => fn(bind(trx, dialect, true))),
    ping: async () => {
      await db.selectFrom('meta').select('key').limit(1).execute();
    },
  };
  return store;
}

export function createStore(db: Db): Store {
  return bind(db.kysely, db.dialect, false);
}
