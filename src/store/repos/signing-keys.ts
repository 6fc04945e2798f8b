import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../schema.ts';
import type { SigningKeysTable } from '../schema-oauth.ts';

export interface SigningKey {
  id: string;
  organizationId: string;
  alg: string;
  status: 'active' | 'rotated';
  publicJwk: Record<string, unknown>;
  privateJwkSealed: string;
  createdAt: string;
  rotatedAt: string | null;
  /** When a rotated key leaves the JWKS: after every token it signed has expired. */
  retireAt: string | null;
}

function toKey(row: Selectable<SigningKeysTable>): SigningKey {
  return {
    id: row.id,
    organizationId: row.organization_id,
    alg: row.alg,
    status: row.status,
    publicJwk: JSON.parse(row.public_jwk) as Record<string, unknown>,
    privateJwkSealed: row.private_jwk_sealed,
    createdAt: row.created_at,
    rotatedAt: row.rotated_at,
    retireAt: row.retire_at,
  };
}

export function createSigningKeysRepo(db: Kysely<Database>) {
  return {
    async insert(key: SigningKey): Promise<void> {
      await db
        .insertInto('signing_keys')
        .values({
          id: key.id,
          organization_id: key.organizationId,
          alg: key.alg,
          status: key.status,
          public_jwk: JSON.stringify(key.publicJwk),
          private_jwk_sealed: key.privateJwkSealed,
          created_at: key.createdAt,
          rotated_at: key.rotatedAt,
          retire_at: key.retireAt,
        })
        .execute();
    },
    /** The active key first, then rotated keys not yet retired, newest first. */
    async listPublished(organizationId: string, now: string): Promise<SigningKey[]> {
      const rows = await db
        .selectFrom('signing_keys')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .where((eb) => eb.or([eb('status', '=', 'active'), eb('retire_at', '>', now)]))
        .orderBy('created_at', 'desc')
        .execute();
      return rows.map(toKey).sort((a, b) => (a.status === b.status ? 0 : a.status === 'active' ? -1 : 1));
    },
    async retireActive(organizationId: string, now: string, retireAt: string): Promise<void> {
      await db
        .updateTable('signing_keys')
        .set({ status: 'rotated', rotated_at: now, retire_at: retireAt })
        .where('organization_id', '=', organizationId)
        .where('status', '=', 'active')
        .execute();
    },
  };
}

export type SigningKeysRepo = ReturnType<typeof createSigningKeysRepo>;
