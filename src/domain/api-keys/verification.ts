import { partialKey } from '../../crypto/api-key-format.ts';
import type { ApiKeyRecord } from '../../store/repos/api-keys.ts';
import type { BatchWriter } from '../audit/batch-writer.ts';
import { buildEvent } from '../audit/events.ts';
import type { Principal } from '../auth/principal.ts';
import type { Clock } from '../shared/clock.ts';
import { isPromise, type MaybePromise } from '../shared/maybe-promise.ts';
import type { RequestContext } from '../shared/types.ts';
import type { CheckCode, CheckResult, KeyChecker } from './hot-path.ts';
import type { RateDecision, RateLimiter } from './rate-limiter.ts';

export type AuthFailureCode =
  | 'malformed_api_key'
  | 'invalid_api_key'
  | 'api_key_revoked'
  | 'api_key_expired'
  | 'ip_not_allowed'
  | 'rate_limited';

export type KeyCheck =
  | { ok: true; principal: Principal; record: ApiKeyRecord; rate: RateDecision | undefined }
  | { ok: false; code: AuthFailureCode; record?: ApiKeyRecord; rate?: RateDecision | undefined };

export interface VerifyInput {
  key: string;
  permissions?: string[] | undefined;
  ip?: string | undefined;
}

export interface VerifyResult {
  valid: boolean;
  code: CheckCode;
  keyId: string | null;
  organizationId: string | null;
  name: string | null;
  permissions: string[];
  metadata: Record<string, unknown> | null;
  expiresAt: string | null;
  rateLimit: { limit: number; remaining: number; reset: string } | null;
}

function authCode(result: CheckResult): AuthFailureCode {
  switch (result.code) {
    case 'REVOKED':
      return 'api_key_revoked';
    case 'EXPIRED':
      return 'api_key_expired';
    case 'IP_NOT_ALLOWED':
      return 'ip_not_allowed';
    case 'RATE_LIMITED':
      return 'rate_limited';
    default:
      return result.malformed ? 'malformed_api_key' : 'invalid_api_key';
  }
}

function keyCheck(result: CheckResult): KeyCheck {
  const snapshot = result.snapshot;
  if (result.code !== 'VALID' || !snapshot) {
    return { ok: false, code: authCode(result), record: snapshot?.record, rate: result.rate };
  }
  return { ok: true, record: snapshot.record, rate: result.rate, principal: snapshot.principal };
}

/**
 * The two faces of the hot path: the HTTP authentication hook (a principal,
 * or a problem code) and `POST /v1/keys/verify` (a verdict for the caller's
 * own API), plus `auth.failed` for refused keys.
 */
export function createVerification(deps: {
  checker: KeyChecker;
  limiter: RateLimiter;
  batch: BatchWriter;
  clock: Clock;
}) {
  const { checker, limiter, batch, clock } = deps;

  /**
   * Records a refused credential: `api_key.ip_denied` for a key used from
   * outside its allowlist, `api_key.rate_limited` (aggregated) past its rate
   * limit, else `auth.failed`; always with only a partial key identifier. It belongs to the key's organization when the key is known,
   * else to the organization in the URL; failures with neither are kept
   * under the pseudo-organization "-" (visible to operators, not tenants).
   */
  function recordFailure(
    candidate: string,
    code: string,
    ctx: Omit<RequestContext, 'actor'>,
    owner: { record?: ApiKeyRecord | undefined; organizationId?: string | undefined } = {},
  ): void {
    const record = owner.record;
    const keyHint = candidate ? partialKey(candidate) : null;
    const endpoint = ctx.endpoint ?? null;
    if (record && code === 'rate_limited') {
      // A flood of over-limit requests becomes one event per key, endpoint and address per flush, with a count.
      const atMs = clock.nowMs();
      const group = `rate_limited ${record.id} ${endpoint} ${ctx.ip}`;
      if (batch.countAggregated(group, atMs)) return;
      batch.addAggregated(
        group,
        atMs,
        buildEvent(
          clock,
          { ...ctx, actor: { type: 'api_key', id: record.id, display: record.name } },
          {
            organizationId: record.organizationId,
            type: 'api_key.rate_limited',
            outcome: 'failure',
            target: { type: 'api_key', id: record.id },
            data: { keyId: record.id, name: record.name, endpoint, ip: ctx.ip, rateLimit: record.rateLimit },
          },
        ),
      );
      return;
    }
    if (record && code === 'ip_not_allowed') {
      batch.recordEvent(
        buildEvent(
          clock,
          { ...ctx, actor: { type: 'anonymous', id: null, display: null } },
          {
            organizationId: record.organizationId,
            type: 'api_key.ip_denied',
            outcome: 'failure',
            target: { type: 'api_key', id: record.id },
            data: { keyId: record.id, name: record.name, keyHint, endpoint, ip: ctx.ip },
          },
        ),
      );
      return;
    }
    batch.recordEvent(
      buildEvent(
        clock,
        { ...ctx, actor: { type: 'anonymous', id: null, display: null } },
        {
          organizationId: record?.organizationId ?? owner.organizationId ?? '-',
          type: 'auth.failed',
          outcome: 'failure',
          target: record ? { type: 'api_key', id: record.id } : null,
          data: { reason: code, keyHint, endpoint, ip: ctx.ip },
        },
      ),
    );
  }

  /** For the HTTP authentication hook: a key's principal, or why it is refused (synchronous on a cache hit). */
  function authenticate(candidate: string, ctx: Omit<RequestContext, 'actor'>): MaybePromise<KeyCheck> {
    const result = checker.check(candidate, { ip: ctx.ip, ctx });
    return isPromise(result) ? result.then(keyCheck) : keyCheck(result);
  }

  /**
   * `POST /v1/keys/verify`: the same decision as the HTTP hot path, for a
   * key presented to the caller's own API. A key of another organization
   * is NOT_FOUND to the caller, and nothing about it is counted. Synchronous
   * when the key is cached and the rate limiter is in memory.
   */
  function verify(
    principal: Principal,
    origin: Omit<RequestContext, 'actor'>,
    input: VerifyInput,
  ): MaybePromise<VerifyResult> {
    const result = checker.check(input.key, {
      ip: input.ip ?? null,
      required: input.permissions,
      ctx: origin,
      organizationId: principal.organizationId,
    });
    return isPromise(result)
      ? result.then((r) => verdict(principal, origin, input, r))
      : verdict(principal, origin, input, result);
  }

  function verdict(
    principal: Principal,
    origin: Omit<RequestContext, 'actor'>,
    input: VerifyInput,
    result: CheckResult,
  ): MaybePromise<VerifyResult> {
    const ip = input.ip ?? null;
    const snapshot = result.snapshot;
    const record = snapshot?.record;
    if (result.code !== 'VALID') {
      // A failed verification belongs to the caller's organization (whose API the key was presented to),
      // so its rules see bursts and stuffing against that API; unknown keys are NOT_FOUND with no key id.
      batch.recordEvent(
        buildEvent(
          clock,
          {
            ...origin,
            ip: ip ?? origin.ip,
            actor: { type: principal.type, id: principal.id, display: principal.display },
          },
          {
            organizationId: principal.organizationId,
            type: 'api_key.verification_failed',
            outcome: 'failure',
            target: record ? { type: 'api_key', id: record.id } : null,
            data: {
              keyId: record?.id ?? null,
              code: record ? result.code : 'NOT_FOUND',
              keyHint: input.key ? partialKey(input.key) : null,
              ip,
            },
          },
        ),
      );
    }
    if (!record) {
      return {
        valid: false,
        code: 'NOT_FOUND',
        keyId: null,
        organizationId: null,
        name: null,
        permissions: [],
        metadata: null,
        expiresAt: null,
        rateLimit: null,
      };
    }
    if (!result.rate && record.rateLimit && snapshot.rateWindowMs) {
      // Not counted (the key was refused before its budget was spent): report the budget as it stands.
      const peeked = limiter.peek(record.id, record.rateLimit.limit, snapshot.rateWindowMs);
      return isPromise(peeked)
        ? peeked.then((rate) => answer(record, result.code, rate))
        : answer(record, result.code, peeked);
    }
    return answer(record, result.code, result.rate);
  }

  return { authenticate, verify, recordFailure };
}

function answer(record: ApiKeyRecord, code: CheckCode, rate: RateDecision | undefined): VerifyResult {
  return {
    valid: code === 'VALID',
    code,
    keyId: record.id,
    organizationId: record.organizationId,
    name: record.name,
    permissions: record.permissions,
    metadata: record.metadata,
    expiresAt: record.expiresAt,
    rateLimit: rate
      ? { limit: rate.limit, remaining: rate.remaining, reset: new Date(rate.resetAt).toISOString() }
      : null,
  };
}
