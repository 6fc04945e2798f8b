import { errors } from 'oidc-provider';
import type { Store } from '../../store/store.ts';
import type { Clock } from '../shared/clock.ts';

/**
 * How long after a refresh token was rotated the same token is still
 * accepted: two tabs refreshing at once both succeed, a replay later than
 * this revokes the whole grant (reuse detection).
 */
export const REFRESH_GRACE_MS = 10_000;

type Payload = Record<string, unknown> & {
  grantId?: string;
  uid?: string;
  userCode?: string;
  accountId?: string;
  consumed?: unknown;
};

export interface ClientSource {
  /** Engine metadata (snake_case, with the plain secret) of one of this organization's clients. */
  find(clientId: string): Promise<Record<string, unknown> | undefined>;
}

/**
 * The oidc-provider adapter for one organization: every model in
 * `oidc_payloads`, scoped by organization, so an issuer never sees another
 * tenant's codes, tokens, sessions or clients.
 */
export function adapterFactory(deps: {
  organizationId: string;
  store: Store;
  clock: Clock;
  clients: ClientSource;
  /** Idle and absolute session timeouts (seconds). */
  sessionTimeouts: () => { idle: number; absolute: number };
}) {
  const { organizationId, store, clock } = deps;

  return class KyselyAdapter {
    readonly model: string;
    constructor(model: string) {
      this.model = model;
    }

    private key(id: string) {
      return { organizationId, model: this.model, id };
    }

    async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      const now = clock.now();
      let expiresMs = typeof expiresIn === 'number' ? now.getTime() + expiresIn * 1000 : undefined;
      if (this.model === 'Session') {
        // Idle timeout: each save extends the session, never past the absolute timeout.
        const { idle, absolute } = deps.sessionTimeouts();
        const loginTs = typeof payload.loginTs === 'number' ? payload.loginTs * 1000 : now.getTime();
        expiresMs = Math.min(now.getTime() + idle * 1000, loginTs + absolute * 1000, expiresMs ?? Infinity);
      }
      await store.oidc.upsert({
        ...this.key(id),
        payload,
        // A Grant row belongs to its own family, so revoking a grant removes it too.
        grantId: this.model === 'Grant' ? id : (payload.grantId ?? null),
        uid: payload.uid ?? null,
        userCode: payload.userCode ?? null,
        accountId: payload.accountId ?? null,
        expiresAt: expiresMs === undefined ? null : new Date(expiresMs).toISOString(),
        now: now.toISOString(),
      });
    }

    async find(id: string): Promise<Payload | undefined> {
      if (this.model === 'Client') return deps.clients.find(id);
      const row = await store.oidc.find(this.key(id));
      return row && this.present(row);
    }

    async findByUid(uid: string): Promise<Payload | undefined> {
      const row = await store.oidc.findBy(organizationId, this.model, 'uid', uid);
      return row && this.present(row);
    }

    async findByUserCode(userCode: string): Promise<Payload | undefined> {
      const row = await store.oidc.findBy(organizationId, this.model, 'user_code', userCode);
      return row && this.present(row);
    }

    private present(row: {
      payload: Record<string, unknown>;
      expiresAt: string | null;
      consumedAt: string | null;
    }) {
      const now = clock.now().getTime();
      if (row.expiresAt !== null && Date.parse(row.expiresAt) <= now) return undefined;
      const payload: Payload = { ...row.payload };
      if (row.consumedAt !== null) {
        const withinGrace =
          this.model === 'RefreshToken' && now - Date.parse(row.consumedAt) < REFRESH_GRACE_MS;
        if (!withinGrace) payload.consumed = Math.floor(Date.parse(row.consumedAt) / 1000);
      }
      return payload;
    }

    async consume(id: string): Promise<void> {
      const now = clock.now();
      if (await store.oidc.consume(this.key(id), now.toISOString())) return;
      // Lost the race: another request consumed this row between our read and now.
      const row = await store.oidc.find(this.key(id));
      if (
        row?.consumedAt &&
        this.model === 'RefreshToken' &&
        now.getTime() - Date.parse(row.consumedAt) < REFRESH_GRACE_MS
      ) {
        return;
      }
      // RFC 6749 §4.1.2: a code used twice revokes what it issued.
      const grantId = row?.payload.grantId;
      if (typeof grantId === 'string') await store.oidc.revokeByGrantId(organizationId, grantId);
      throw new errors.InvalidGrant(
        `${this.model === 'RefreshToken' ? 'refresh token' : 'grant'} already used`,
      );
    }

    async destroy(id: string): Promise<void> {
      await store.oidc.destroy(this.key(id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await store.oidc.revokeByGrantId(organizationId, grantId);
    }
  };
}
