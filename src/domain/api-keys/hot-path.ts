import { hasKeyShape, hasValidChecksum } from '../../crypto/api-key-format.ts';
import { lookupDigest } from '../../crypto/key-hash.ts';
import { createIpMatcher } from '../../net/cidr.ts';
import type { ApiKeyRecord } from '../../store/repos/api-keys.ts';
import type { Store } from '../../store/store.ts';
import type { BatchWriter } from '../audit/batch-writer.ts';
import { buildEvent } from '../audit/events.ts';
import type { Principal } from '../auth/principal.ts';
import type { Clock } from '../shared/clock.ts';
import { parseDuration } from '../shared/duration.ts';
import { isPromise, type MaybePromise } from '../shared/maybe-promise.ts';
import { createSingleFlight } from '../shared/single-flight.ts';
import type { RequestContext } from '../shared/types.ts';
import { createKeyCache } from './key-cache.ts';
import type { RateDecision, RateLimiter } from './rate-limiter.ts';

/** What the hot path keeps per key: enough to decide without the database. */
export interface KeySnapshot {
  record: ApiKeyRecord;
  /** `record.expiresAt` as epoch ms (null: never), compared with the clock without a Date per request. */
  expiresAtMs: number | null;
  /** The key as the caller of an HTTP request (its permissions a set): built once per cache entry. */
  principal: Principal;
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

/** `lookup`'s answer for a key of the right shape whose checksum is wrong. */
const MALFORMED = Symbol('malformed');

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
    now: () => clock.nowMs(),
  });

  /**
   * The snapshot of this (well-formed) key, null when there is no such key: from the cache when
   * it can be. A cache hit costs one SHA-256 of the key (its memory-only lookup digest); the keyed
   * hash the database is searched by (HMAC, two SHA-256 and a buffer copy) is computed on a miss.
   */
  function lookup(key: string): MaybePromise<KeySnapshot | null> | typeof MALFORMED {
    const digest = lookupDigest(key);
    const cached = cache.get(digest);
    if (cached !== undefined) return cached;
    // The checksum is checked only here: a cached entry (hit or miss) was stored after its key
    // passed it, so no bad-checksum key is ever found in the cache.
    if (!hasValidChecksum(key)) return MALFORMED;
    const keyHash = hashKey(key);
    // Concurrent misses for one key share one database read (a cold cache under load on
    // PostgreSQL would otherwise send one identical query per waiting request).
    return reads.run(keyHash, () => load(digest, keyHash));
  }

  const reads = createSingleFlight<string, KeySnapshot | null>();

  async function load(digest: string, hash: string): Promise<KeySnapshot | null> {
    const token = cache.begin();
    const record = await store.apiKeys.findByHash(hash);
    let snapshot: KeySnapshot | null = null;
    if (record) {
      const org = await store.organizations.get(record.organizationId);
      snapshot = {
        record,
        expiresAtMs: record.expiresAt === null ? null : Date.parse(record.expiresAt),
        principal: {
          type: 'api_key',
          id: record.id,
          organizationId: record.organizationId,
          rootOrganization: org?.isRoot ?? false,
          display: record.name,
          permissions: new Set(record.permissions),
          protected: record.isOwner,
          scimOnly: record.prefix === 'scim_',
        },
        ipAllowed: record.ipAllowlist.length > 0 ? createIpMatcher(record.ipAllowlist) : undefined,
        rateWindowMs: record.rateLimit ? parseDuration(record.rateLimit.window) : undefined,
      };
    }
    cache.set(token, digest, hash, snapshot);
    return snapshot;
  }

  function fail(code: CheckCode, snapshot?: KeySnapshot, extra: Partial<CheckResult> = {}): CheckResult {
    return { code, malformed: false, snapshot, rate: undefined, missing: [], ...extra };
  }

  function recordUse(record: ApiKeyRecord, atMs: number, input: CheckInput): void {
    const endpoint = input.ctx.endpoint ?? null;
    if (batch.recordKeyUse(record.id, atMs, input.ip, endpoint)) return;
    batch.addKeyUseEvent(
      record.id,
      atMs,
      input.ip,
      endpoint,
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

  /** Everything after the lookup: status, expiry, allowlist, permissions, then the rate budget. */
  function decide(snapshot: KeySnapshot | null, input: CheckInput): MaybePromise<CheckResult> {
    if (!snapshot) return fail('NOT_FOUND');
    const { record } = snapshot;
    if (input.organizationId !== undefined && record.organizationId !== input.organizationId) {
      return fail('NOT_FOUND');
    }
    const nowMs = clock.nowMs();
    if (record.status === 'revoked') return fail('REVOKED', snapshot);
    if (snapshot.expiresAtMs !== null && snapshot.expiresAtMs <= nowMs) return fail('EXPIRED', snapshot);
    if (snapshot.ipAllowed && !snapshot.ipAllowed(input.ip)) return fail('IP_NOT_ALLOWED', snapshot);
    if (input.required) {
      const missing = input.required.filter((p) => !snapshot.principal.permissions.has(p));
      if (missing.length > 0) return fail('INSUFFICIENT_PERMISSIONS', snapshot, { missing });
    }
    if (record.rateLimit && snapshot.rateWindowMs) {
      const rate = limiter.hit(record.id, record.rateLimit.limit, snapshot.rateWindowMs);
      return isPromise(rate)
        ? rate.then((r) => admit(snapshot, nowMs, input, r))
        : admit(snapshot, nowMs, input, rate);
    }
    return admit(snapshot, nowMs, input, undefined);
  }

  function admit(
    snapshot: KeySnapshot,
    nowMs: number,
    input: CheckInput,
    rate: RateDecision | undefined,
  ): CheckResult {
    if (rate && !rate.allowed) return fail('RATE_LIMITED', snapshot, { rate });
    recordUse(snapshot.record, nowMs, input);
    return { code: 'VALID', malformed: false, snapshot, rate, missing: [] };
  }

  return {
    /**
     * The hot path. Shape first, then one O(1) lookup through the cache of
     * hits and misses, the checksum before any storage is touched; status,
     * allowlist, permissions (set lookups) and the rate budget are decided in
     * memory. A VALID result counts the use in memory; nothing is written here.
     * A cached key with no shared rate limiter is decided synchronously: no
     * promise, no microtask turn.
     */
    check(candidate: string, input: CheckInput): MaybePromise<CheckResult> {
      if (!hasKeyShape(candidate)) return fail('NOT_FOUND', undefined, { malformed: true });
      const snapshot = lookup(candidate);
      if (snapshot === MALFORMED) return fail('NOT_FOUND', undefined, { malformed: true });
      return isPromise(snapshot) ? snapshot.then((s) => decide(s, input)) : decide(snapshot, input);
    },
    /** Evicts a key before the change that called it answers (revoke, rotate, update, expiry). */
    invalidate: (hash: string) => {
      // A read that started before the change must not answer lookups made after it.
      reads.forget(hash);
      cache.invalidate(hash);
    },
    cacheSize: () => cache.size(),
  };
}

export type KeyChecker = ReturnType<typeof createKeyChecker>;
