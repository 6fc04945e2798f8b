import { randomBytes } from 'node:crypto';
import { newId } from '../../crypto/ids.ts';
import type { SecretBox } from '../../crypto/secret-box.ts';
import { AppError } from '../../errors/app-error.ts';
import type { ClientSettings, GrantType, OAuthClient } from '../../store/repos/oauth-clients.ts';
import type { Store } from '../../store/store.ts';
import { buildEvent } from '../audit/events.ts';
import type { Clock } from '../shared/clock.ts';
import { decodeCursor, encodeCursor, type Page, type RequestContext } from '../shared/types.ts';

export const GRANT_TYPES = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:device_code',
] as const satisfies readonly GrantType[];

export const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'] as const;

export interface ClientInput {
  name: string;
  type: 'confidential' | 'public';
  firstParty?: boolean | undefined;
  redirectUris?: string[] | undefined;
  postLogoutRedirectUris?: string[] | undefined;
  grantTypes?: GrantType[] | undefined;
  scopes?: string[] | undefined;
  resources?: string[] | undefined;
  backchannelLogoutUri?: string | null | undefined;
}

export type ClientPatch = Partial<Omit<ClientInput, 'type'>>;

export type PublicClient = Omit<OAuthClient, 'secretSealed'>;

const secretContext = (c: { organizationId: string; id: string }) =>
  `oauth-client:${c.organizationId}:${c.id}`;

function newSecret(): string {
  return `lcs_${randomBytes(32).toString('base64url')}`;
}

function checkUri(uri: string, field: string): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new AppError('validation_failed', `${field}: ${uri} is not an absolute URL`);
  }
  // RFC 6749 §3.1.2: the redirection endpoint URI must not include a fragment.
  if (url.hash) throw new AppError('validation_failed', `${field}: ${uri} must not contain a fragment`);
}

/** Clients of an organization's issuer; the secret is shown once and sealed at rest. */
export function createClientService(deps: {
  store: Store;
  clock: Clock;
  secretBox: SecretBox;
  latchkeyResource: string;
  onChange: (organizationId: string) => void;
}) {
  const { store, clock, secretBox } = deps;

  function validate(c: OAuthClient): void {
    for (const uri of c.redirectUris) checkUri(uri, 'redirectUris');
    for (const uri of c.postLogoutRedirectUris) checkUri(uri, 'postLogoutRedirectUris');
    for (const uri of c.resources) checkUri(uri, 'resources');
    if (c.backchannelLogoutUri) checkUri(c.backchannelLogoutUri, 'backchannelLogoutUri');
    const interactive = c.grantTypes.includes('authorization_code');
    if (interactive && c.redirectUris.length === 0) {
      throw new AppError(
        'validation_failed',
        'redirectUris: authorization_code needs at least one redirect URI',
      );
    }
    if (c.type === 'public' && c.grantTypes.includes('client_credentials')) {
      throw new AppError('validation_failed', 'grantTypes: a public client cannot use client_credentials');
    }
    if (c.grantTypes.includes('refresh_token') && !interactive && !c.grantTypes.includes(GRANT_TYPES[3])) {
      throw new AppError(
        'validation_failed',
        'grantTypes: refresh_token needs authorization_code or device_code',
      );
    }
  }

  const strip = ({ secretSealed: _s, ...rest }: OAuthClient): PublicClient => rest;

  async function save(
    ctx: RequestContext,
    client: OAuthClient,
    type: string,
    data: Record<string, unknown>,
    op: 'insert' | 'update' | 'delete',
  ): Promise<void> {
    await store.transaction(async (tx) => {
      if (op === 'insert') await tx.oauthClients.insert(client);
      else if (op === 'update') await tx.oauthClients.update(client);
      else await tx.oauthClients.delete(client.organizationId, client.id);
      await tx.events.append([
        buildEvent(clock, ctx, {
          organizationId: client.organizationId,
          type,
          target: { type: 'client', id: client.id },
          data,
        }),
      ]);
    });
    deps.onChange(client.organizationId);
  }

  async function mustGet(organizationId: string, id: string): Promise<OAuthClient> {
    const client = await store.oauthClients.get(organizationId, id);
    if (!client) throw new AppError('not_found', 'No such client');
    return client;
  }

  function sealSecret(client: OAuthClient): string {
    const secret = newSecret();
    client.secretSealed = secretBox.seal(secret, secretContext(client));
    client.secretHint = `${secret.slice(0, 8)}…${secret.slice(-4)}`;
    return secret;
  }

  return {
    async create(
      ctx: RequestContext,
      organizationId: string,
      input: ClientInput,
    ): Promise<PublicClient & { secret: string | null }> {
      const now = clock.now().toISOString();
      const settings: ClientSettings = {
        redirectUris: input.redirectUris ?? [],
        postLogoutRedirectUris: input.postLogoutRedirectUris ?? [],
        grantTypes: input.grantTypes ?? ['authorization_code', 'refresh_token'],
        scopes: input.scopes ?? [...OIDC_SCOPES],
        resources: input.resources ?? [deps.latchkeyResource],
        backchannelLogoutUri: input.backchannelLogoutUri ?? null,
      };
      const client: OAuthClient = {
        id: newId('cli', clock.now().getTime()),
        organizationId,
        name: input.name,
        type: input.type,
        firstParty: input.firstParty ?? false,
        secretSealed: null,
        secretHint: null,
        ...settings,
        createdAt: now,
        updatedAt: now,
      };
      validate(client);
      const secret = client.type === 'confidential' ? sealSecret(client) : null;
      await save(ctx, client, 'client.created', { name: client.name, type: client.type }, 'insert');
      return { ...strip(client), secret };
    },

    async get(organizationId: string, id: string): Promise<PublicClient> {
      return strip(await mustGet(organizationId, id));
    },

    async list(organizationId: string, query: { cursor?: string | undefined; limit: number }) {
      let afterId: string | undefined;
      if (query.cursor !== undefined) {
        const parts = decodeCursor(query.cursor, 1);
        if (!parts) throw new AppError('invalid_cursor');
        afterId = parts[0];
      }
      const rows = await store.oauthClients.list(organizationId, afterId, query.limit + 1);
      const data = rows.slice(0, query.limit).map(strip);
      const last = data[data.length - 1];
      return {
        data,
        nextCursor: rows.length > query.limit && last ? encodeCursor([last.id]) : null,
      } satisfies Page<PublicClient>;
    },

    async update(ctx: RequestContext, organizationId: string, id: string, patch: ClientPatch) {
      const before = await mustGet(organizationId, id);
      const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
      const after: OAuthClient = { ...before, ...defined, updatedAt: clock.now().toISOString() };
      validate(after);
      await save(ctx, after, 'client.updated', { changes: Object.keys(defined) }, 'update');
      return strip(after);
    },

    async delete(ctx: RequestContext, organizationId: string, id: string): Promise<void> {
      const client = await mustGet(organizationId, id);
      await save(ctx, client, 'client.deleted', { name: client.name }, 'delete');
    },

    /** A new secret, shown once; the old one stops working at once. */
    async rotateSecret(ctx: RequestContext, organizationId: string, id: string) {
      const client = await mustGet(organizationId, id);
      if (client.type !== 'confidential') {
        throw new AppError('validation_failed', 'A public client has no secret');
      }
      const secret = sealSecret(client);
      client.updatedAt = clock.now().toISOString();
      await save(ctx, client, 'client.secret_rotated', {}, 'update');
      return { ...strip(client), secret };
    },

    /** The engine's view of a client (snake_case metadata with the plain secret). */
    async engineMetadata(organizationId: string, id: string) {
      const client = await store.oauthClients.get(organizationId, id);
      if (!client) return undefined;
      const secret = client.secretSealed
        ? secretBox.open(client.secretSealed, secretContext(client))
        : undefined;
      return { client, secret };
    },
  };
}

export type ClientService = ReturnType<typeof createClientService>;
