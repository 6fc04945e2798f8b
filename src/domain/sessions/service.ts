import { AppError } from '../../errors/app-error.ts';
import type { Store } from '../../store/store.ts';
import { buildEvent } from '../audit/events.ts';
import type { Clock } from '../shared/clock.ts';
import type { RequestContext } from '../shared/types.ts';

export interface SessionView {
  /** The session's public uid (never the cookie value). */
  id: string;
  userId: string;
  signedInAt: string | null;
  expiresAt: string | null;
  amr: string[];
  clients: string[];
}

interface SessionPayload {
  uid?: string;
  accountId?: string;
  loginTs?: number;
  amr?: string[];
  authorizations?: Record<string, { grantId?: string }>;
}

/**
 * Sign-in sessions of the hosted login (the engine's Session model). Ending
 * one deletes it and revokes every grant it authorized, so its refresh
 * tokens stop working at once.
 */
export function createSessionService(deps: {
  store: Store;
  clock: Clock;
  /** Told after a session was ended here (not by the engine), e.g. to send back-channel logout tokens. */
  onEnded?: (
    organizationId: string,
    session: { accountId: string; sids: Record<string, string> },
  ) => Promise<void>;
}) {
  const { store, clock } = deps;

  function view(userId: string, row: { payload: Record<string, unknown>; expiresAt: string | null }) {
    const p = row.payload as SessionPayload;
    return {
      id: String(p.uid),
      userId,
      signedInAt: typeof p.loginTs === 'number' ? new Date(p.loginTs * 1000).toISOString() : null,
      expiresAt: row.expiresAt,
      amr: p.amr ?? [],
      clients: Object.keys(p.authorizations ?? {}),
    } satisfies SessionView;
  }

  async function live(organizationId: string, userId: string) {
    const nowIso = clock.now().toISOString();
    const rows = await store.oidc.listByAccount(organizationId, 'Session', userId);
    return rows.filter((r) => r.expiresAt === null || r.expiresAt > nowIso);
  }

  async function end(
    ctx: RequestContext,
    organizationId: string,
    userId: string,
    row: { id: string; payload: Record<string, unknown> },
    reason: string,
  ) {
    const p = row.payload as SessionPayload;
    await store.transaction(async (tx) => {
      for (const { grantId } of Object.values(p.authorizations ?? {})) {
        if (grantId) await tx.oidc.revokeByGrantId(organizationId, grantId);
      }
      await tx.oidc.destroy({ organizationId, model: 'Session', id: row.id });
      await tx.events.append([
        buildEvent(clock, ctx, {
          organizationId,
          type: 'session.revoked',
          target: { type: 'session', id: String(p.uid) },
          data: { userId, reason, clients: Object.keys(p.authorizations ?? {}) },
        }),
      ]);
    });
    const sids = Object.fromEntries(
      Object.entries(p.authorizations ?? {}).map(([clientId, a]) => [
        clientId,
        String((a as { sid?: string }).sid),
      ]),
    );
    await deps.onEnded?.(organizationId, { accountId: userId, sids });
  }

  return {
    async list(organizationId: string, userId: string): Promise<SessionView[]> {
      return (await live(organizationId, userId)).map((r) => view(userId, r));
    },

    async revoke(ctx: RequestContext, organizationId: string, userId: string, sessionId: string) {
      const row = (await live(organizationId, userId)).find((r) => r.payload.uid === sessionId);
      if (!row) throw new AppError('not_found', 'No such session');
      await end(ctx, organizationId, userId, row, 'terminated');
    },

    async revokeAll(ctx: RequestContext, organizationId: string, userId: string): Promise<number> {
      const rows = await live(organizationId, userId);
      for (const row of rows) await end(ctx, organizationId, userId, row, 'terminated_all');
      return rows.length;
    },

    /** The user signed out at the issuer (RP-initiated logout); the engine already ended the session. */
    async recordSignedOut(ctx: RequestContext, organizationId: string, sessionId: string, userId: string) {
      await store.events.append([
        buildEvent(clock, ctx, {
          organizationId,
          type: 'session.revoked',
          target: { type: 'session', id: sessionId },
          data: { userId, reason: 'logout' },
        }),
      ]);
    },

    async recordCreated(ctx: RequestContext, organizationId: string, userId: string, clientId: string) {
      await store.events.append([
        buildEvent(clock, ctx, {
          organizationId,
          type: 'session.created',
          target: { type: 'user', id: userId },
          data: { clientId },
        }),
      ]);
    },
  };
}

export type SessionService = ReturnType<typeof createSessionService>;
