import type { Store } from '../../store/store.ts';
import { buildEvent } from '../audit/events.ts';
import type { Clock } from '../shared/clock.ts';
import type { RequestContext } from '../shared/types.ts';

/** Per-organization OAuth, session and sign-in policy, kept in `organizations.settings.oauth`. */
export interface OAuthSettings {
  /** Lifetime of access tokens, seconds (RFC 9068 JWTs cannot be revoked: keep it short). */
  accessTokenTtl: number;
  refreshTokenTtl: number;
  /** A session ends after this long without activity, seconds. */
  sessionIdleTimeout: number;
  /** A session ends this long after sign-in whatever the activity, seconds. */
  sessionAbsoluteTimeout: number;
  /** Failed sign-ins per account and IP before further attempts are refused. */
  lockoutThreshold: number;
  /** How long a locked account+IP pair is refused, seconds (or until an admin unlocks it). */
  lockoutDuration: number;
  passwordMinLength: number;
  /** Require upper case, lower case and a digit. */
  passwordRequireMixed: boolean;
  /** Every user of the organization must pass a second factor. */
  mfaRequired: boolean;
}

export const DEFAULT_OAUTH_SETTINGS: Readonly<OAuthSettings> = Object.freeze({
  accessTokenTtl: 600,
  refreshTokenTtl: 14 * 24 * 3600,
  sessionIdleTimeout: 24 * 3600,
  sessionAbsoluteTimeout: 7 * 24 * 3600,
  lockoutThreshold: 10,
  lockoutDuration: 3600,
  passwordMinLength: 12,
  passwordRequireMixed: false,
  mfaRequired: false,
});

const SETTINGS_TTL_MS = 60_000;

export function createOAuthSettingsService(deps: {
  store: Store;
  clock: Clock;
  onChange: (organizationId: string) => void;
}) {
  const { store, clock } = deps;
  // Read again after a minute (a change made by another node without Redis, or by the CLI), and at
  // once when `invalidate` says so (this node's changes, and other nodes' through the bus).
  const cache = new Map<string, { settings: OAuthSettings; loadedAt: number }>();
  let invalidations = 0;

  const service = {
    async get(organizationId: string): Promise<OAuthSettings> {
      const hit = cache.get(organizationId);
      if (hit && clock.nowMs() - hit.loadedAt < SETTINGS_TTL_MS) return hit.settings;
      const loadedAt = clock.nowMs();
      const generation = invalidations;
      const org = await store.organizations.get(organizationId);
      const stored = (org?.settings.oauth ?? {}) as Partial<OAuthSettings>;
      const settings = { ...DEFAULT_OAUTH_SETTINGS, ...stored };
      // A read that an invalidation overtook may be older than the change: kept, but stale.
      const fresh = generation === invalidations;
      cache.set(organizationId, { settings, loadedAt: fresh ? loadedAt : Number.NEGATIVE_INFINITY });
      return settings;
    },
    /** Synchronous read for the engine's TTL callbacks (loaded before the engine is built). */
    cached(organizationId: string): OAuthSettings {
      return cache.get(organizationId)?.settings ?? DEFAULT_OAUTH_SETTINGS;
    },
    /**
     * Marks the cached settings stale: the next `get` reads them from the database, while
     * `cached` keeps answering with the last ones read (an engine still serving a request).
     */
    invalidate(organizationId: string): void {
      invalidations += 1;
      const hit = cache.get(organizationId);
      if (hit) hit.loadedAt = Number.NEGATIVE_INFINITY;
    },
    async update(ctx: RequestContext, organizationId: string, patch: Partial<OAuthSettings>) {
      const org = await store.organizations.get(organizationId);
      if (!org) throw new Error('organization vanished');
      const settings = { ...DEFAULT_OAUTH_SETTINGS, ...(org.settings.oauth as object), ...patch };
      await store.transaction(async (tx) => {
        await tx.organizations.update(organizationId, {
          settings: { ...org.settings, oauth: settings },
          updatedAt: clock.now().toISOString(),
        });
        await tx.events.append([
          buildEvent(clock, ctx, {
            organizationId,
            type: 'organization.updated',
            target: { type: 'organization', id: organizationId },
            data: { changes: { oauth: Object.keys(patch) } },
          }),
        ]);
      });
      cache.set(organizationId, { settings, loadedAt: clock.nowMs() });
      deps.onChange(organizationId);
      return settings;
    },
  };
  return service;
}

export type OAuthSettingsService = ReturnType<typeof createOAuthSettingsService>;
