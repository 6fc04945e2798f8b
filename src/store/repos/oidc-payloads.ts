import type { Kysely } from 'kysely';
import type { Database } from '../schema.ts';

export interface OidcRow {
  payload: Record<string, unknown>;
  expiresAt: string | null;
  consumedAt: string | null;
}

export interface OidcUpsert {
  organizationId: string;
  model: string;
  id: string;
  payload: Record<string, unknown>;
  grantId: string | null;
  uid: string | null;
  userCode: string | null;
  accountId: string | null;
  expiresAt: string | null;
  now: string;
}

type Key = { organizationId: string; model: string; id: string };

/**
 * What the oidc-provider engine persists, one row per (organization, model, id).
 * `consume` is atomic: exactly one caller sees `true` for a given row
 * (`UPDATE … WHERE consumed_at IS NULL`), which makes authorization codes and
 * rotated refresh tokens single use under concurrency (RFC 6749 §4.1.2, §10.4).
 */
export function createOidcPayloadsRepo(db: Kysely<Database>) {
  return {
    async upsert(row: OidcUpsert): Promise<void> {
      const values = {
        organization_id: row.organizationId,
        model: row.model,
        id: row.id,
        payload: JSON.stringify(row.payload),
        grant_id: row.grantId,
        uid: row.uid,
        user_code: row.userCode,
        account_id: row.accountId,
        expires_at: row.expiresAt,
        consumed_at: null,
        created_at: row.now,
      };
      await db
        .insertInto('oidc_payloads')
        .values(values)
        .onConflict((oc) =>
          oc.columns(['organization_id', 'model', 'id']).doUpdateSet({
            payload: values.payload,
            grant_id: values.grant_id,
            uid: values.uid,
            user_code: values.user_code,
            account_id: values.account_id,
            expires_at: values.expires_at,
          }),
        )
        .execute();
    },
    async find(key: Key): Promise<OidcRow | undefined> {
      const row = await db
        .selectFrom('oidc_payloads')
        .select(['payload', 'expires_at', 'consumed_at'])
        .where('organization_id', '=', key.organizationId)
        .where('model', '=', key.model)
        .where('id', '=', key.id)
        .executeTakeFirst();
      return row && toRow(row);
    },
    async findBy(
      organizationId: string,
      model: string,
      column: 'uid' | 'user_code',
      value: string,
    ): Promise<(OidcRow & { id: string }) | undefined> {
      const row = await db
        .selectFrom('oidc_payloads')
        .select(['id', 'payload', 'expires_at', 'consumed_at'])
        .where('organization_id', '=', organizationId)
        .where('model', '=', model)
        .where(column, '=', value)
        .executeTakeFirst();
      return row && { id: row.id, ...toRow(row) };
    },
    /** Atomic: true for exactly one caller per row. */
    async consume(key: Key, now: string): Promise<boolean> {
      const result = await db
        .updateTable('oidc_payloads')
        .set({ consumed_at: now })
        .where('organization_id', '=', key.organizationId)
        .where('model', '=', key.model)
        .where('id', '=', key.id)
        .where('consumed_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async destroy(key: Key): Promise<void> {
      await db
        .deleteFrom('oidc_payloads')
        .where('organization_id', '=', key.organizationId)
        .where('model', '=', key.model)
        .where('id', '=', key.id)
        .execute();
    },
    async revokeByGrantId(organizationId: string, grantId: string): Promise<number> {
      const result = await db
        .deleteFrom('oidc_payloads')
        .where('organization_id', '=', organizationId)
        .where('grant_id', '=', grantId)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
    async listByAccount(
      organizationId: string,
      model: string,
      accountId: string,
    ): Promise<(OidcRow & { id: string })[]> {
      const rows = await db
        .selectFrom('oidc_payloads')
        .select(['id', 'payload', 'expires_at', 'consumed_at'])
        .where('organization_id', '=', organizationId)
        .where('model', '=', model)
        .where('account_id', '=', accountId)
        .orderBy('created_at', 'desc')
        .execute();
      return rows.map((r) => ({ id: r.id, ...toRow(r) }));
    },
    async deleteExpired(now: string): Promise<number> {
      const result = await db.deleteFrom('oidc_payloads').where('expires_at', '<', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

function toRow(row: { payload: string; expires_at: string | null; consumed_at: string | null }): OidcRow {
  return {
    payload: JSON.parse(row.payload) as Record<string, unknown>,
    expiresAt: row.expires_at,
    consumedAt: row.consumed_at,
  };
}

export type OidcPayloadsRepo = ReturnType<typeof createOidcPayloadsRepo>;
