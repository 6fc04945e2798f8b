import type { MasterKey } from '../crypto/master-key.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { createCredentialService } from '../domain/login/service.ts';
import { createMfaService } from '../domain/mfa/service.ts';
import { createWebauthnService } from '../domain/mfa/webauthn.ts';
import { createClientService } from '../domain/oauth/clients.ts';
import { createOAuthSettingsService } from '../domain/oauth/settings.ts';
import { createSigningKeyService } from '../domain/oauth/signing-keys.ts';
import type { RoleService } from '../domain/roles/service.ts';
import { createSessionService } from '../domain/sessions/service.ts';
import type { Clock } from '../domain/shared/clock.ts';
import type { InvalidationBus } from '../domain/shared/invalidation.ts';
import type { Store } from '../store/store.ts';
import { createAccessTokenVerifier } from './access-tokens.ts';
import { createEngines, deriveCookieSecret } from './engine.ts';

/** The OAuth 2.0 / OpenID Connect services, wired once by createServices. */
export function createOAuthModule(deps: {
  store: Store;
  clock: Clock;
  masterKey: MasterKey;
  secretBox: SecretBox;
  roles: RoleService;
  publicUrl: string;
  proxy: boolean;
  outboundAllowlist: readonly string[];
  /** Other nodes' caches (Redis pub/sub with several nodes): told of every change made here. */
  bus?: InvalidationBus;
}) {
  const { store, clock, secretBox } = deps;
  const latchkeyResource = `${deps.publicUrl}/v1`;
  const listeners: ((organizationId: string) => void)[] = [];
  const evict = (organizationId: string) => {
    for (const listener of listeners) listener(organizationId);
  };
  // A change made here evicts this node's engine, key set and settings, then every other node's.
  const onChange = (organizationId: string) => {
    evict(organizationId);
    deps.bus?.publish(organizationId);
  };
  void deps.bus?.subscribe(evict);
  const signingKeys = createSigningKeyService({ store, clock, secretBox, onChange });
  const clients = createClientService({ store, clock, secretBox, latchkeyResource, onChange });
  const settings = createOAuthSettingsService({ store, clock, onChange });
  const cookieRoot = deps.masterKey.derive('oidc-cookies');
  const engines = createEngines({
    store,
    clock,
    clients,
    signingKeys,
    settings,
    publicUrl: deps.publicUrl,
    latchkeyResource,
    cookieSecret: (organizationId) => deriveCookieSecret(cookieRoot, organizationId),
    proxy: deps.proxy,
    outboundAllowlist: deps.outboundAllowlist,
    onSignOut: async (organizationId, e) => {
      const user = await store.users.get(organizationId, e.userId);
      await sessions.recordSignedOut(
        {
          actor: { type: 'user', id: e.userId, display: user?.email ?? null },
          ip: e.ip,
          userAgent: e.userAgent,
          requestId: null,
        },
        organizationId,
        e.sessionId,
        e.userId,
      );
    },
  });
  const tokens = createAccessTokenVerifier({
    store,
    clock,
    roles: deps.roles,
    signingKeys,
    publicUrl: deps.publicUrl,
    latchkeyResource,
  });
  listeners.push(engines.invalidate, tokens.invalidate, settings.invalidate);
  const credentials = createCredentialService({ store, clock, secretBox, settings });
  const mfa = createMfaService({ store, clock, secretBox, settings });
  const sessions = createSessionService({
    store,
    clock,
    // OpenID Connect Back-Channel Logout for sessions ended through the API, as the engine
    // does for RP-initiated logout. Best effort: a client that cannot be reached is skipped.
    onEnded: async (organizationId, { accountId, sids }) => {
      const engine = await engines.get(organizationId);
      if (!engine) return;
      for (const [clientId, sid] of Object.entries(sids)) {
        const client = await engine.provider.Client.find(clientId).catch(() => undefined);
        if (!client?.backchannelLogoutUri) continue;
        // Client#backchannelLogout exists in oidc-provider 9 but is missing from its typings.
        const notify = client as unknown as { backchannelLogout(sub: string, sid: string): Promise<void> };
        await notify.backchannelLogout(accountId, sid).catch(() => undefined);
      }
    },
  });
  const webauthn = createWebauthnService({ store, clock, publicUrl: deps.publicUrl });
  return {
    latchkeyResource,
    signingKeys,
    clients,
    settings,
    engines,
    tokens,
    credentials,
    sessions,
    mfa,
    webauthn,
    /** Secret for CSRF tokens of the hosted login pages. */
    csrfKey: deps.masterKey.derive('hosted-login-csrf'),
  };
}

export type OAuthModule = ReturnType<typeof createOAuthModule>;
