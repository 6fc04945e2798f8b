import type { SecretBox } from '../../crypto/secret-box.ts';
import { AppError } from '../../errors/app-error.ts';
import type { User } from '../../store/repos/users.ts';
import type { Store } from '../../store/store.ts';
import { buildEvent, type EventInput } from '../audit/events.ts';
import { hashRecoveryCode, matchTotp } from '../mfa/totp.ts';
import type { OAuthSettingsService } from '../oauth/settings.ts';
import type { Clock } from '../shared/clock.ts';
import type { RequestContext } from '../shared/types.ts';
import { credentialHelpers, totpContext } from './credentials.ts';
import { burnVerification, hashPassword, policyViolation, verifyPassword } from './passwords.ts';

/** Why a sign-in step failed; expected, high-volume outcomes are values, not exceptions. */
export type LoginFailure = 'invalid_credentials' | 'locked' | 'disabled';

export type PasswordResult =
  | { ok: true; user: User; secondFactor: boolean; mfaEnrollmentNeeded: boolean }
  | { ok: false; reason: LoginFailure };

/**
 * Passwords (argon2id), the organization's password policy, TOTP and recovery
 * codes, and brute-force protection: after `lockoutThreshold` failures for one
 * account from one IP (Auth0's default: 10), further attempts from that IP are
 * refused for `lockoutDuration` without the password being checked.
 */
export function createCredentialService(deps: {
  store: Store;
  clock: Clock;
  secretBox: SecretBox;
  settings: OAuthSettingsService;
}) {
  const { store, clock, secretBox, settings } = deps;

  const { now, credentialsOf, mustGetUser, saveWithEvents, emit } = credentialHelpers({ store, clock });

  /**
   * RFC 6238 §5.2: a code is accepted once. The step is recorded (atomically
   * consumed) so a code seen by a shoulder-surfer or replayed cannot be reused.
   */
  async function firstUseOfStep(organizationId: string, userId: string, step: number): Promise<boolean> {
    const key = { organizationId, model: 'TotpStep', id: `${userId}:${step}` };
    const at = clock.now();
    await store.oidc.upsert({
      ...key,
      payload: {},
      grantId: null,
      uid: null,
      userCode: null,
      accountId: null,
      expiresAt: new Date(at.getTime() + 5 * 60_000).toISOString(),
      now: at.toISOString(),
    });
    return store.oidc.consume(key, at.toISOString());
  }

  /** Counts a failed step (password or second factor) for this account and IP. */
  async function recordFailure(ctx: RequestContext, user: User, step: string): Promise<LoginFailure> {
    const policy = await settings.get(user.organizationId);
    const ip = ctx.ip ?? 'unknown';
    const current = await store.credentials.getFailures(user.organizationId, user.id, ip);
    const failures = (current?.failures ?? 0) + 1;
    const locking = failures >= policy.lockoutThreshold;
    const lockedUntil = locking
      ? new Date(clock.now().getTime() + policy.lockoutDuration * 1000).toISOString()
      : null;
    const target = { type: 'user', id: user.id };
    const events: EventInput[] = [
      {
        organizationId: user.organizationId,
        type: 'user.login.failed',
        target,
        outcome: 'failure',
        data: { email: user.email, reason: 'invalid_credentials', step, failures },
      },
    ];
    if (locking) {
      events.push({
        organizationId: user.organizationId,
        type: 'user.locked',
        target,
        outcome: 'failure',
        data: { email: user.email, failures, lockedUntil, ip },
      });
    }
    await store.transaction(async (tx) => {
      await tx.credentials.setFailures(user.organizationId, user.id, ip, failures, lockedUntil, now());
      await tx.events.append(events.map((e) => buildEvent(clock, ctx, e)));
    });
    return locking ? 'locked' : 'invalid_credentials';
  }

  /**
   * Locked for this account and IP by failed attempts, or for the whole
   * account by a rule (`lock_user` sets users.locked_until).
   */
  async function isLocked(user: User, ip: string): Promise<boolean> {
    const row = await store.credentials.getFailures(user.organizationId, user.id, ip);
    if (row?.lockedUntil != null && row.lockedUntil > now()) return true;
    const flags = await store.detection.userFlags(user.organizationId, user.id);
    return flags?.lockedUntil != null && flags.lockedUntil > now();
  }

  const service = {
    async setPassword(ctx: RequestContext, organizationId: string, userId: string, password: string) {
      const user = await mustGetUser(organizationId, userId);
      const violation = policyViolation(password, await settings.get(organizationId));
      if (violation) throw new AppError('password_policy', violation);
      const c = await credentialsOf(organizationId, userId);
      c.passwordHash = await hashPassword(password);
      c.passwordSetAt = now();
      await saveWithEvents(c, ctx, [
        { organizationId, type: 'user.password_set', target: { type: 'user', id: user.id }, data: {} },
      ]);
    },

    /** Step 1 of sign-in. Never says whether the email exists. */
    async checkPassword(
      ctx: RequestContext,
      organizationId: string,
      email: string,
      password: string,
    ): Promise<PasswordResult> {
      const [user] = await store.users.list(organizationId, { email, limit: 1 });
      const c = user ? await store.credentials.get(organizationId, user.id) : undefined;
      if (!user || !c?.passwordHash) {
        await burnVerification(password);
        await emit(ctx, [
          {
            organizationId,
            type: 'user.login.failed',
            target: user ? { type: 'user', id: user.id } : null,
            outcome: 'failure',
            data: { email, reason: user ? 'no_password' : 'unknown_user', step: 'password' },
          },
        ]);
        return { ok: false, reason: 'invalid_credentials' };
      }
      if (await isLocked(user, ctx.ip ?? 'unknown')) {
        await emit(ctx, [
          {
            organizationId,
            type: 'user.login.failed',
            target: { type: 'user', id: user.id },
            outcome: 'failure',
            data: { email: user.email, reason: 'locked', step: 'password' },
          },
        ]);
        return { ok: false, reason: 'locked' };
      }
      if (!(await verifyPassword(c.passwordHash, password))) {
        return { ok: false, reason: await recordFailure(ctx, user, 'password') };
      }
      if (user.status !== 'active') {
        await emit(ctx, [
          {
            organizationId,
            type: 'user.login.failed',
            target: { type: 'user', id: user.id },
            outcome: 'failure',
            data: { email: user.email, reason: 'disabled', step: 'password' },
          },
        ]);
        return { ok: false, reason: 'disabled' };
      }
      const org = await settings.get(organizationId);
      const hasTotp = c.totpConfirmedAt !== null;
      const hasPasskey = (await store.credentials.listWebauthn(organizationId, user.id)).length > 0;
      return {
        ok: true,
        user,
        secondFactor: hasTotp || hasPasskey,
        mfaEnrollmentNeeded: !hasTotp && !hasPasskey && (c.mfaRequired || org.mfaRequired),
      };
    },

    /** Step 2: a TOTP code or a recovery code. Failures count toward the lockout. */
    async checkSecondFactor(
      ctx: RequestContext,
      organizationId: string,
      userId: string,
      code: string,
    ): Promise<{ ok: true; method: 'otp' | 'recovery' } | { ok: false; reason: LoginFailure }> {
      const user = await mustGetUser(organizationId, userId);
      if (await isLocked(user, ctx.ip ?? 'unknown')) return { ok: false, reason: 'locked' };
      const c = await credentialsOf(organizationId, userId);
      if (c.totpSealed && c.totpConfirmedAt) {
        const secret = secretBox.open(c.totpSealed, totpContext(c));
        const step = matchTotp(secret, code, clock.now());
        if (step !== undefined && (await firstUseOfStep(organizationId, userId, step))) {
          return { ok: true, method: 'otp' };
        }
      }
      if (/[a-z]/i.test(code)) {
        const used = await store.credentials.useRecoveryCode(
          organizationId,
          userId,
          hashRecoveryCode(code),
          now(),
        );
        if (used) return { ok: true, method: 'recovery' };
      }
      return { ok: false, reason: await recordFailure(ctx, user, 'second_factor') };
    },

    /** A failed second factor checked elsewhere (a passkey assertion) counts toward the lockout. */
    async secondFactorFailed(ctx: RequestContext, organizationId: string, userId: string) {
      return recordFailure(ctx, await mustGetUser(organizationId, userId), 'second_factor');
    },

    async isLocked(ctx: RequestContext, organizationId: string, userId: string): Promise<boolean> {
      return isLocked(await mustGetUser(organizationId, userId), ctx.ip ?? 'unknown');
    },

    /** Both steps passed: clears this IP's failure count and records the sign-in. */
    async loginSucceeded(ctx: RequestContext, user: User, amr: string[]): Promise<void> {
      await store.transaction(async (tx) => {
        await tx.credentials.clearFailures(user.organizationId, user.id, ctx.ip ?? 'unknown');
        await tx.events.append([
          buildEvent(clock, ctx, {
            organizationId: user.organizationId,
            type: 'user.login.succeeded',
            target: { type: 'user', id: user.id },
            data: { email: user.email, amr },
          }),
        ]);
      });
    },

    /** Admin unlock: clears every IP's counter for the user. */
    async unlock(ctx: RequestContext, organizationId: string, userId: string): Promise<void> {
      const user = await mustGetUser(organizationId, userId);
      await store.transaction(async (tx) => {
        const cleared = await tx.credentials.clearFailures(organizationId, userId);
        await tx.events.append([
          buildEvent(clock, ctx, {
            organizationId,
            type: 'user.unlocked',
            target: { type: 'user', id: user.id },
            data: { email: user.email, cleared },
          }),
        ]);
      });
    },

    async lockedIps(organizationId: string, userId: string): Promise<string[]> {
      return store.credentials.lockedIps(organizationId, userId, now());
    },
  };
  return service;
}

export type CredentialService = ReturnType<typeof createCredentialService>;
