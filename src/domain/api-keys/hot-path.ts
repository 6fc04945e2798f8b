import { parseApiKey } from '../../crypto/api-key-format.ts';
import { createIpMatcher } from '../../net/cidr.ts';
import type { ApiKeyRecord } from '../../store/repos/api-keys.ts';
import type { Store } from '../../store/store.ts';
import type { BatchWriter } from '../audit/batch-writer.ts';
import { buildEvent } from '../audit/events.ts';
import type { Clock } from '../shared/clock.ts';
import { parseDuration } from '../shared/duration.ts';
import type { RequestContext } from '../shared/types.ts';
import { createKeyCache } from './key-cache.ts';
import type { RateDecision, RateLimiter } from './rate-limiter.ts';

/** What the hot path keeps per key: enough to decide without the database. */
export interface KeySnapshot {
  record: ApiKeyRecord;
  rootOrganization: boolean;
  permissions: ReadonlySet<string>;
  /** undefined when the key has no allowlist. */
  ipAllowed: ((ip: string | null) => boolean) | undefined;
  rateWindowMs: number | undefined;
}

/** The codes of `POST /v1/keys/verify`, used by the HTTP authentication too. */
export type CheckCode =
  | 'VALID'
  | 'NOT_FOUND'
  | 'EXPIRED'
  | 'REVOKED'
  | 'IP_NOT_ALLOWED'
  | 'RATE_LIMITED'
  | 'INSUFFICIENT_PERMISSIONS';

export interface CheckResult {
  code: CheckCode;
  /** True when the key failed shape or checksum: no storage was touched. */
  malformed: boolean;
  snapshot: KeySnapshot | undefined;
  rate: RateDecision | undefined;
  missing: string[];
}

export interface CheckInput {
  ip: string | null;
  /** Permissions the caller requires, each checked as a set lookup. */
  required?: readonly string[] | undefined;
  /** The request for audit: `api_key.used` (aggregated) on success. */
  ctx: Omit<RequestContext, 'actor'>;
  /** When set, a key of any other organization is NOT_FOUND (and nothing is counted). */
  organizationId?: string | undefined;
}

export function createKeyChecker(deps: {
  store: Store;
  clock: Clock;
  hashKey: (key: string) => string;
  batch: BatchWriter;
  limiter: RateLimiter;
}) {
  const { store, clock, hashKey, batch, limiter } = deps;
  const cache = createKeyCache<KeySnapshot>({
    maxEntries: 50_000,
    ttlMs: 60_000,
    now: () => clock.now().getTime(),
  });

  async function lookup(hash: string): Promise<KeySnapshot | null> {
    const cached = cache.get(hash);
    if (cached !== undefined) return cached;
    const token = cache.begin();
    const record = await store.apiKeys.findByHash(hash);
    let snapshot: KeySnapshot | null = null;
    if (record) {
      const org = await store.organizations.get(record.organizationId);
      const matcher = record.ipAllowlist.length > 0 ? createIpMatcher(record.ipAllowlist) : undefined;
      snapshot = {
        record,
        rootOrganization: org?.isRoot ?? false,
        permissions: new Set(record.permissions),
        ipAllowed: matcher,
        rateWindowMs: record.rateLimit ? parseDuration(record.rateLimit.window) : undefined,
      };
    }
    cache.set(token, hash, snapshot);
    return snapshot;
  }

  function fail(code: CheckCode, snapshot?: KeySnapshot, extra: Partial<CheckResult> = {}): CheckResult {
    return { code, malformed: false, snapshot, rate: undefined, missing: [], ...extra };
  }

  function recordUse(record: ApiKeyRecord, at: Date, input: CheckInput): void {
    const iso = at.toISOString();
    const endpoint = input.ctx.endpoint ?? null;
    batch.recordKeyUse(record.id, iso, input.ip);
    batch.recordAggregated(`${record.id} ${endpoint} ${input.ip}`, iso, () =>
      buildEvent(
        clock,
        { ...input.ctx, ip: input.ip, actor: { type: 'api_key', id: record.id, display: record.name } },
        {
          organizationId: record.organizationId,
          type: 'api_key.used',
          target: { type: 'api_key', id: record.id },
          data: { keyId: record.id, name: record.name, endpoint, ip: input.ip },
        },
      ),
    );
  }

  return {
    /**
     * The hot path. Shape and checksum first (no storage), then one O(1)
     * lookup by keyed hash through the cache of hits and misses; status,
     * allowlist, permissions (set lookups) and the rate budget are decided in
     * memory. A VALID result counts the use in memory; nothing is written here.
     */
    async check(candidate: string, input: CheckInput): Promise<CheckResult> {
      const parsed = parseApiKey(candidate);
      if (!parsed) return fail('NOT_FOUND', undefined, { malformed: true });
      const snapshot = await lookup(hashKey(parsed.key));
      if (!snapshot) return fail('NOT_FOUND');
      const { record } = snapshot;
      if (input.organizationId !== undefined && record.organizationId !== input.organizationId) {
        return fail('NOT_FOUND');
      }
      const now = clock.now();
      if (record.status === 'revoked') return fail('REVOKED', snapshot);
      if (record.expiresAt !== null && record.expiresAt <= now.toISOString())
        return fail('EXPIRED', snapshot);
      if (snapshot.ipAllowed && !snapshot.ipAllowed(input.ip)) return fail('IP_NOT_ALLOWED', snapshot);
      if (input.required) {
        const missing = input.required.filter((p) => !snapshot.permissions.has(p));
        if (missing.length > 0) return fail('INSUFFICIENT_PERMISSIONS', snapshot, { missing });
      }
      let rate: RateDecision | undefined;
      if (record.rateLimit && snapshot.rateWindowMs) {
        rate = await limiter.hit(record.id, record.rateLimit.limit, snapshot.rateWindowMs);
        if (!rate.allowed) return fail('RATE_LIMITED', snapshot, { rate });
      }
      recordUse(record, now, input);
      return { code: 'VALID', malformed: false, snapshot, rate, missing: [] };
    },
    /** Evicts a key before the change that called it answers (revoke, rotate, update, expiry). */
    invalidate: (hash: string) => cache.invalidate(hash),
    cacheSize: () => cache.size(),
  };
}

export type KeyChecker = ReturnType<typeof createKeyChecker>;
