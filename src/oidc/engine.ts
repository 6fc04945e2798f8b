import { createHmac } from 'node:crypto';
import Provider, { type Configuration, errors, type KoaContextWithOIDC } from 'oidc-provider';
import { adapterFactory } from '../domain/oauth/adapter.ts';
import type { ClientService } from '../domain/oauth/clients.ts';
import { OIDC_SCOPES } from '../domain/oauth/clients.ts';
import type { OAuthSettingsService } from '../domain/oauth/settings.ts';
import type { SigningKeyService } from '../domain/oauth/signing-keys.ts';
import type { Clock } from '../domain/shared/clock.ts';
import { createIpMatcher } from '../net/cidr.ts';
import type { OAuthClient } from '../store/repos/oauth-clients.ts';
import type { Store } from '../store/store.ts';
import { escapeHtml, page } from './views.ts';

export interface EngineDeps {
  store: Store;
  clock: Clock;
  clients: ClientService;
  signingKeys: SigningKeyService;
  settings: OAuthSettingsService;
  publicUrl: string;
  /** Resource indicator of Latchkey's own API: tokens with this `aud` are accepted by /v1. */
  latchkeyResource: string;
  /** Secret for the engine's signed cookies, per organization. */
  cookieSecret: (organizationId: string) => string;
  proxy: boolean;
  /** Hosts and CIDR ranges the engine may reach although private or loopback (back-channel logout). */
  outboundAllowlist: readonly string[];
  /** Told when a user signs out through RP-initiated logout (the session is gone). */
  onSignOut?: (
    organizationId: string,
    event: { sessionId: string; userId: string; ip: string | null; userAgent: string | null },
  ) => Promise<void>;
}

export interface Engine {
  provider: Provider;
  /** The engine's Koa request handler, composed once. */
  handle: ReturnType<Provider['callback']>;
  organizationId: string;
  issuer: string;
  /** Clients loaded by this engine (refreshed by invalidation). */
  clientOf(clientId: string): OAuthClient | undefined;
}

export const issuerOf = (publicUrl: string, organizationId: string) => `${publicUrl}/oidc/${organizationId}`;

const ORG_PATTERN = /^org_[0-9a-z]{26}$/;

/** How long a cached engine is used before it is rebuilt from the database. */
export const ENGINE_TTL_MS = 60_000;

/** The client and token fields the introspection and revocation policies read. */
type AnyClient = { clientId: string; clientAuthMethod: string };
type AnyToken = { clientId?: string | undefined };
/** Engines kept in memory at most (each holds its keys, clients and Koa app). */
export const MAX_ENGINES = 500;

/**
 * One oidc-provider instance per organization, created on first use and
 * cached; `invalidate` drops it when the organization's clients, keys or
 * settings change, so the next request builds it afresh (no restart).
 */
export function createEngines(deps: EngineDeps) {
  const cache = new Map<string, Promise<Engine | undefined>>();
  const allowedIp = createIpMatcher(deps.outboundAllowlist);
  const allowedHost = new Set(deps.outboundAllowlist.map((h) => h.toLowerCase()));

  /**
   * oidc-provider refuses special-use addresses (loopback, private) on its
   * outbound requests; LATCHKEY_OUTBOUND_ALLOWLIST lifts that, as for webhooks.
   */
  const engineFetch = (url: URL | string, options: RequestInit & { dispatcher?: unknown }) => {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
    if (allowedHost.has(host) || allowedIp(host)) delete options.dispatcher;
    return fetch(url, options);
  };

  async function build(organizationId: string): Promise<Engine | undefined> {
    if (!ORG_PATTERN.test(organizationId)) return undefined;
    const org = await deps.store.organizations.get(organizationId);
    if (!org) return undefined;
    // Loads the settings cache that the engine's synchronous TTL callbacks read.
    await deps.settings.get(organizationId);
    const jwks = await deps.signingKeys.privateJwks(organizationId);
    const alg = String(jwks[0]?.alg ?? 'ES256');
    const issuer = issuerOf(deps.publicUrl, organizationId);
    const loaded = new Map<string, OAuthClient>();

    // Client metadata is read once per engine: any change to a client rebuilds the engine.
    const metadata = new Map<string, Promise<Record<string, unknown> | undefined>>();
    const clientSource = {
      find(clientId: string) {
        let found = metadata.get(clientId);
        if (!found) {
          found = readClient(clientId);
          metadata.set(clientId, found);
          // Unknown ids are not kept, so probing random ids cannot grow the map.
          void found.then(
            (m) => m ?? metadata.delete(clientId),
            () => metadata.delete(clientId),
          );
        }
        return found;
      },
    };
    const readClient = async (clientId: string) => {
      const found = await deps.clients.engineMetadata(organizationId, clientId);
      if (!found) return undefined;
      const { client, secret } = found;
      loaded.set(clientId, client);
      const interactive = client.grantTypes.includes('authorization_code');
      const oidcScopes = client.scopes.filter((x) => (OIDC_SCOPES as readonly string[]).includes(x));
      return {
        client_id: client.id,
        client_name: client.name,
        ...(secret ? { client_secret: secret } : {}),
        token_endpoint_auth_method: client.type === 'public' ? 'none' : 'client_secret_basic',
        redirect_uris: client.redirectUris,
        post_logout_redirect_uris: client.postLogoutRedirectUris,
        grant_types: client.grantTypes,
        response_types: interactive ? ['code'] : [],
        // Client `scope` may only name the engine's OpenID scopes; resource scopes are
        // limited per client in getResourceServerInfo.
        ...(oidcScopes.length > 0 ? { scope: oidcScopes.join(' ') } : {}),
        id_token_signed_response_alg: alg,
        ...(client.backchannelLogoutUri
          ? {
              backchannel_logout_uri: client.backchannelLogoutUri,
              backchannel_logout_session_required: true,
            }
          : {}),
      };
    };

    const configuration: Configuration = {
      adapter: adapterFactory({
        organizationId,
        store: deps.store,
        clock: deps.clock,
        clients: clientSource,
        sessionTimeouts: () => {
          const s = deps.settings.cached(organizationId);
          return { idle: s.sessionIdleTimeout, absolute: s.sessionAbsoluteTimeout };
        },
      }) as unknown as Configuration['adapter'],
      jwks: { keys: jwks as never },
      cookies: {
        keys: [deps.cookieSecret(organizationId)],
        names: { session: '_lk_session', interaction: '_lk_interaction', resume: '_lk_resume' },
        // Each organization's session cookie stays under its issuer, so tenants never share one.
        long: { path: `/oidc/${organizationId}`, httpOnly: true, sameSite: 'lax' },
      },
      // Authorization code only: no implicit or hybrid flows (RFC 9700 §2.1.2).
      responseTypes: ['code', 'none'],
      clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
      fetch: engineFetch as never,
      claims: {
        openid: ['sub', 'acr', 'amr'],
        email: ['email', 'email_verified'],
        profile: ['name', 'updated_at'],
      },
      scopes: [...OIDC_SCOPES],
      async findAccount(_ctx, sub) {
        const user = await deps.store.users.get(organizationId, sub);
        if (user?.status !== 'active') return undefined;
        return {
          accountId: sub,
          async claims() {
            return {
              sub,
              email: user.email,
              email_verified: false,
              name: user.name ?? undefined,
              updated_at: Math.floor(Date.parse(user.updatedAt) / 1000),
            };
          },
        };
      },
      interactions: {
        url: (_ctx, interaction) => `/oidc/${organizationId}/interaction/${interaction.uid}`,
      },
      pkce: {
        // RFC 9700 §2.1.1: PKCE for every public client; confidential clients may still use it.
        required: (_ctx, client) => client.clientAuthMethod === 'none',
      },
      rotateRefreshToken: true,
      // Seed 002: a client allowed the refresh_token grant gets one with every code. Without
      // offline_access (which OIDC only honours with prompt=consent) it ends with the session.
      issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
      ttl: {
        AccessToken: () => deps.settings.cached(organizationId).accessTokenTtl,
        ClientCredentials: () => deps.settings.cached(organizationId).accessTokenTtl,
        AuthorizationCode: 60,
        DeviceCode: 600,
        IdToken: 3600,
        Interaction: 3600,
        Grant: () => deps.settings.cached(organizationId).refreshTokenTtl,
        RefreshToken: () => deps.settings.cached(organizationId).refreshTokenTtl,
        Session: () => deps.settings.cached(organizationId).sessionAbsoluteTimeout,
      },
      features: {
        devInteractions: { enabled: false },
        // Who may ask, stated rather than left to the library's defaults (which it asks to be
        // replaced). Engines are per organization, so a client only ever reaches its own
        // organization's tokens. Introspection: any confidential client (a resource server checks
        // tokens issued to other clients: RFC 7662's purpose); a public client, its own tokens only.
        // The bundled typings only describe the disabled shape of this feature.
        introspection: {
          enabled: true,
          allowedPolicy: async (_ctx: unknown, client: AnyClient, token: AnyToken) =>
            client.clientAuthMethod !== 'none' || token.clientId === client.clientId,
        } as never,
        // Revocation: a client revokes its own tokens only (RFC 7009 section 2.1). A public client
        // asking for another's gets the RFC's silent 200; a confidential one is told it may not.
        revocation: {
          enabled: true,
          allowedPolicy: async (_ctx: unknown, client: AnyClient, token: AnyToken) => {
            if (token.clientId === client.clientId) return true;
            if (client.clientAuthMethod === 'none') return false;
            throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
          },
        } as never,
        userinfo: { enabled: true },
        clientCredentials: { enabled: true },
        backchannelLogout: { enabled: true },
        rpInitiatedLogout: {
          enabled: true,
          logoutSource: async (ctx, form) => {
            ctx.body = page(
              'Sign out',
              `<p>Do you want to sign out of ${escapeHtml(ctx.oidc.client?.clientName ?? 'this organization')}?</p>${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button class="secondary" type="submit" form="op.logoutForm">No, stay signed in</button>`,
            );
          },
          postLogoutSuccessSource: async (ctx) => {
            ctx.body = page('Signed out', '<p>You are signed out.</p>');
          },
        },
        deviceFlow: {
          enabled: true,
          userCodeInputSource: async (ctx, form, _out, err) => {
            const msg = err
              ? '<p class="error" role="alert">That code is not valid. Check it and try again.</p>'
              : '<p>Enter the code shown on your device.</p>';
            ctx.body = page(
              'Connect a device',
              `${msg}${form.replace('<input ', '<label for="user_code">Code</label><input id="user_code" autofocus ')}<button type="submit" form="op.deviceInputForm">Continue</button>`,
            );
          },
          userCodeConfirmSource: async (ctx, form, client, _info, userCode) => {
            ctx.body = page(
              'Confirm the device',
              `<p><strong>${escapeHtml(client.clientName ?? client.clientId)}</strong> wants to sign in. Check that your device shows</p>
<p><code>${escapeHtml(userCode)}</code></p>${form}
<button autofocus type="submit" form="op.deviceConfirmForm">Continue</button>
<button class="secondary" type="submit" form="op.deviceConfirmForm" value="yes" name="abort">Abort</button>`,
            );
          },
          successSource: async (ctx) => {
            ctx.body = page('Device connected', '<p>You can return to your device.</p>');
          },
        },
        resourceIndicators: {
          enabled: true,
          defaultResource: async (_ctx, client, oneOf) => {
            if (oneOf) return oneOf;
            // The client's first API resource; a client without one gets opaque, userinfo-only tokens.
            return loaded.get(client.clientId)?.resources[0];
          },
          useGrantedResource: async () => true,
          getResourceServerInfo: async (_ctx: KoaContextWithOIDC, resource: string, client) => {
            const c = loaded.get(client.clientId);
            if (!c?.resources.includes(resource)) throw new errors.InvalidTarget();
            const scopes = c.scopes.filter((s) => !(OIDC_SCOPES as readonly string[]).includes(s));
            return {
              scope: scopes.join(' '),
              audience: resource,
              accessTokenTTL: deps.settings.cached(organizationId).accessTokenTtl,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: alg as 'ES256' } },
            };
          },
        },
      },
      enabledJWA: {
        idTokenSigningAlgValues: ['ES256', 'RS256', 'EdDSA'],
        userinfoSigningAlgValues: ['ES256', 'RS256', 'EdDSA'],
        introspectionSigningAlgValues: ['ES256', 'RS256', 'EdDSA'],
        authorizationSigningAlgValues: ['ES256', 'RS256', 'EdDSA'],
      },
      renderError: async (ctx, out) => {
        ctx.type = 'html';
        ctx.body = page(
          'Something went wrong',
          `<p class="error" role="alert">${escapeHtml(out.error_description ?? out.error)}</p><p class="hint">Error: ${escapeHtml(out.error)}</p>`,
        );
      },
    };

    const provider = new Provider(issuer, configuration);
    provider.proxy = deps.proxy;
    provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
      const session = ctx.oidc.session;
      if (!session?.accountId || !deps.onSignOut) return;
      deps
        .onSignOut(organizationId, {
          sessionId: session.uid,
          userId: session.accountId,
          ip: ctx.ip ?? null,
          userAgent: ctx.get('user-agent') || null,
        })
        .catch(() => undefined);
    });
    return {
      provider,
      handle: provider.callback(),
      organizationId,
      issuer,
      clientOf: (clientId) => loaded.get(clientId),
    };
  }

  const builtAt = new Map<string, number>();

  return {
    get(organizationId: string): Promise<Engine | undefined> {
      let engine = cache.get(organizationId);
      // Rebuilt after ENGINE_TTL_MS too, so a change made elsewhere (the CLI, another node)
      // reaches this process without a restart.
      const age = deps.clock.now().getTime() - (builtAt.get(organizationId) ?? 0);
      if (!engine || age > ENGINE_TTL_MS) {
        engine = build(organizationId).catch((error: unknown) => {
          cache.delete(organizationId);
          throw error;
        });
        cache.delete(organizationId); // re-insert: Map order is least recently built first
        cache.set(organizationId, engine);
        builtAt.set(organizationId, deps.clock.now().getTime());
        // Bounded: with many organizations, the least recently built engines are dropped.
        while (cache.size > MAX_ENGINES) {
          const oldest = cache.keys().next().value as string;
          cache.delete(oldest);
          builtAt.delete(oldest);
        }
      }
      return engine;
    },
    invalidate(organizationId: string): void {
      cache.delete(organizationId);
      builtAt.delete(organizationId);
    },
    issuer: (organizationId: string) => issuerOf(deps.publicUrl, organizationId),
  };
}

export type Engines = ReturnType<typeof createEngines>;

/** Per-organization cookie secret derived from a server secret. */
export function deriveCookieSecret(secret: Buffer, organizationId: string): string {
  return createHmac('sha256', secret).update(`oidc-cookies:${organizationId}`).digest('base64url');
}
