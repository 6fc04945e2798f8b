import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../schema.ts';
import type { OAuthClientsTable } from '../schema-oauth.ts';

export type GrantType =
  | 'authorization_code'
  | 'refresh_token'
  | 'client_credentials'
  | 'urn:ietf:params:oauth:grant-type:device_code';

export interface ClientSettings {
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  grantTypes: GrantType[];
  scopes: string[];
  resources: string[];
  backchannelLogoutUri: string | null;
}

export interface OAuthClient extends ClientSettings {
  id: string;
  organizationId: string;
  name: string;
  type: 'confidential' | 'public';
  firstParty: boolean;
  /** AES-GCM sealed secret (the engine compares the plain value); null for public clients. */
  secretSealed: string | null;
  secretHint: string | null;
  createdAt: string;
  updatedAt: string;
}

function toClient(row: Selectable<OAuthClientsTable>): OAuthClient {
  return {
    id: row.id,
    organizationId: row.organization_id,
    name: row.name,
    type: row.type,
    firstParty: row.first_party === 1,
    secretSealed: row.secret_sealed,
    secretHint: row.secret_hint,
    ...(JSON.parse(row.metadata) as ClientSettings),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toRow(c: OAuthClient): Selectable<OAuthClientsTable> {
  const settings: ClientSettings = {
    redirectUris: c.redirectUris,
    postLogoutRedirectUris: c.postLogoutRedirectUris,
    grantTypes: c.grantTypes,
    scopes: c.scopes,
    resources: c.resources,
    backchannelLogoutUri: c.backchannelLogoutUri,
  };
  return {
    id: c.id,
    organization_id: c.organizationId,
    name: c.name,
    type: c.type,
    first_party: c.firstParty ? 1 : 0,
    secret_sealed: c.secretSealed,
    secret_hint: c.secretHint,
    metadata: JSON.stringify(settings),
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}

export function createOAuthClientsRepo(db: Kysely<Database>) {
  return {
    async insert(client: OAuthClient): Promise<void> {
      await db.insertInto('oauth_clients').values(toRow(client)).execute();
    },
    async update(client: OAuthClient): Promise<void> {
      const { id: _id, organization_id: _org, created_at: _c, ...rest } = toRow(client);
      await db
        .updateTable('oauth_clients')
        .set(rest)
        .where('organization_id', '=', client.organizationId)
        .where('id', '=', client.id)
        .execute();
    },
    async get(organizationId: string, id: string): Promise<OAuthClient | undefined> {
      const row = await db
        .selectFrom('oauth_clients')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .executeTakeFirst();
      return row && toClient(row);
    },
    async list(organizationId: string, afterId: string | undefined, limit: number): Promise<OAuthClient[]> {
      let q = db.selectFrom('oauth_clients').selectAll().where('organization_id', '=', organizationId);
      if (afterId !== undefined) q = q.where('id', '>', afterId);
      const rows = await q.orderBy('id').limit(limit).execute();
      return rows.map(toClient);
    },
    async delete(organizationId: string, id: string): Promise<void> {
      await db
        .deleteFrom('oauth_clients')
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .execute();
    },
  };
}

export type OAuthClientsRepo = ReturnType<typeof createOAuthClientsRepo>;
