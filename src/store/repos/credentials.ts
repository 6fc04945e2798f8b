import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../schema.ts';
import type { UserCredentialsTable } from '../schema-oauth.ts';

export interface UserCredentials {
  userId: string;
  organizationId: string;
  passwordHash: string | null;
  passwordSetAt: string | null;
  mfaRequired: boolean;
  totpSealed: string | null;
  totpConfirmedAt: string | null;
  /** SHA-256 hashes of the unused recovery codes. */
  recoveryCodes: string[];
  updatedAt: string;
}

export interface WebauthnCredential {
  id: string;
  organizationId: string;
  userId: string;
  publicKey: string;
  counter: number;
  transports: string[];
  createdAt: string;
}

function toCredentials(row: Selectable<UserCredentialsTable>): UserCredentials {
  return {
    userId: row.user_id,
    organizationId: row.organization_id,
    passwordHash: row.password_hash,
    passwordSetAt: row.password_set_at,
    mfaRequired: row.mfa_required === 1,
    totpSealed: row.totp_sealed,
    totpConfirmedAt: row.totp_confirmed_at,
    recoveryCodes: JSON.parse(row.recovery_codes) as string[],
    updatedAt: row.updated_at,
  };
}

/** Passwords, second factors and brute-force counters of users. */
export function createCredentialsRepo(db: Kysely<Database>) {
  return {
    async get(organizationId: string, userId: string): Promise<UserCredentials | undefined> {
      const row = await db
        .selectFrom('user_credentials')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return row && toCredentials(row);
    },
    async save(c: UserCredentials): Promise<void> {
      const values = {
        user_id: c.userId,
        organization_id: c.organizationId,
        password_hash: c.passwordHash,
        password_set_at: c.passwordSetAt,
        mfa_required: c.mfaRequired ? 1 : 0,
        totp_sealed: c.totpSealed,
        totp_confirmed_at: c.totpConfirmedAt,
        recovery_codes: JSON.stringify(c.recoveryCodes),
        updated_at: c.updatedAt,
      };
      const { user_id: _u, organization_id: _o, ...rest } = values;
      await db
        .insertInto('user_credentials')
        .values(values)
        .onConflict((oc) => oc.column('user_id').doUpdateSet(rest))
        .execute();
    },
    /**
     * Atomic: removes one recovery code only if it is still unused, so a code
     * works once even when two sign-ins race with it.
     */
    async useRecoveryCode(organizationId: string, userId: string, codeHash: string, now: string) {
      const current = await this.get(organizationId, userId);
      if (!current?.recoveryCodes.includes(codeHash)) return false;
      const remaining = current.recoveryCodes.filter((c) => c !== codeHash);
      const result = await db
        .updateTable('user_credentials')
        .set({ recovery_codes: JSON.stringify(remaining), updated_at: now })
        .where('user_id', '=', userId)
        .where('organization_id', '=', organizationId)
        .where('recovery_codes', '=', JSON.stringify(current.recoveryCodes))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async addWebauthn(c: WebauthnCredential): Promise<void> {
      await db
        .insertInto('webauthn_credentials')
        .values({
          id: c.id,
          organization_id: c.organizationId,
          user_id: c.userId,
          public_key: c.publicKey,
          counter: c.counter,
          transports: JSON.stringify(c.transports),
          created_at: c.createdAt,
        })
        .execute();
    },
    async listWebauthn(organizationId: string, userId: string): Promise<WebauthnCredential[]> {
      const rows = await db
        .selectFrom('webauthn_credentials')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .where('user_id', '=', userId)
        .execute();
      return rows.map((r) => ({
        id: r.id,
        organizationId: r.organization_id,
        userId: r.user_id,
        publicKey: r.public_key,
        counter: r.counter,
        transports: JSON.parse(r.transports) as string[],
        createdAt: r.created_at,
      }));
    },
    async setWebauthnCounter(id: string, counter: number): Promise<void> {
      await db.updateTable('webauthn_credentials').set({ counter }).where('id', '=', id).execute();
    },

    async getFailures(organizationId: string, userId: string, ip: string) {
      const row = await db
        .selectFrom('login_failures')
        .select(['failures', 'locked_until'])
        .where('organization_id', '=', organizationId)
        .where('user_id', '=', userId)
        .where('ip', '=', ip)
        .executeTakeFirst();
      return row ? { failures: row.failures, lockedUntil: row.locked_until } : undefined;
    },
    async setFailures(
      organizationId: string,
      userId: string,
      ip: string,
      failures: number,
      lockedUntil: string | null,
      now: string,
    ): Promise<void> {
      await db
        .insertInto('login_failures')
        .values({
          organization_id: organizationId,
          user_id: userId,
          ip,
          failures,
          locked_until: lockedUntil,
          updated_at: now,
        })
        .onConflict((oc) =>
          oc
            .columns(['organization_id', 'user_id', 'ip'])
            .doUpdateSet({ failures, locked_until: lockedUntil, updated_at: now }),
        )
        .execute();
    },
    async clearFailures(organizationId: string, userId: string, ip?: string): Promise<number> {
      let q = db
        .deleteFrom('login_failures')
        .where('organization_id', '=', organizationId)
        .where('user_id', '=', userId);
      if (ip !== undefined) q = q.where('ip', '=', ip);
      const result = await q.executeTakeFirst();
      return Number(result.numDeletedRows);
    },
    async lockedIps(organizationId: string, userId: string, now: string): Promise<string[]> {
      const rows = await db
        .selectFrom('login_failures')
        .select('ip')
        .where('organization_id', '=', organizationId)
        .where('user_id', '=', userId)
        .where('locked_until', '>', now)
        .execute();
      return rows.map((r) => r.ip);
    },
  };
}

export type CredentialsRepo = ReturnType<typeof createCredentialsRepo>;
