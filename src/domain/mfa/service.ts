import type { SecretBox } from '../../crypto/secret-box.ts';
import { AppError } from '../../errors/app-error.ts';
import type { Store } from '../../store/store.ts';
import { credentialHelpers, totpContext } from '../login/credentials.ts';
import type { OAuthSettingsService } from '../oauth/settings.ts';
import type { Clock } from '../shared/clock.ts';
import type { RequestContext } from '../shared/types.ts';
import { checkTotp, hashRecoveryCode, newRecoveryCodes, newTotpSecret, totpQrCode, totpUri } from './totp.ts';

export interface MfaStatus {
  required: boolean;
  totp: boolean;
  recoveryCodesRemaining: number;
  passkeys: number;
}

/** Second factors of users: TOTP enrollment with recovery codes, and the "MFA required" flag. */
export function createMfaService(deps: {
  store: Store;
  clock: Clock;
  secretBox: SecretBox;
  settings: OAuthSettingsService;
}) {
  const { store, clock, secretBox, settings } = deps;
  const { now, credentialsOf, mustGetUser, saveWithEvents } = credentialHelpers({ store, clock });

  const service = {
    async setMfaRequired(ctx: RequestContext, organizationId: string, userId: string, required: boolean) {
      await mustGetUser(organizationId, userId);
      const c = await credentialsOf(organizationId, userId);
      c.mfaRequired = required;
      await saveWithEvents(c, ctx, [
        {
          organizationId,
          type: 'user.updated',
          target: { type: 'user', id: userId },
          data: { changes: ['mfaRequired'], mfaRequired: required },
        },
      ]);
      return service.mfaStatus(organizationId, userId);
    },
    async mfaStatus(organizationId: string, userId: string): Promise<MfaStatus> {
      await mustGetUser(organizationId, userId);
      const c = await credentialsOf(organizationId, userId);
      const org = await settings.get(organizationId);
      const passkeys = await store.credentials.listWebauthn(organizationId, userId);
      return {
        required: c.mfaRequired || org.mfaRequired,
        totp: c.totpConfirmedAt !== null,
        recoveryCodesRemaining: c.recoveryCodes.length,
        passkeys: passkeys.length,
      };
    },
    /** Starts TOTP enrollment: a new secret (unconfirmed until a code proves the app has it). */
    async startTotp(organizationId: string, userId: string, issuerName: string) {
      const user = await mustGetUser(organizationId, userId);
      const c = await credentialsOf(organizationId, userId);
      const secret = newTotpSecret();
      c.totpSealed = secretBox.seal(secret, totpContext(c));
      c.totpConfirmedAt = null;
      await store.credentials.save({ ...c, updatedAt: now() });
      const uri = totpUri(secret, issuerName, user.email);
      return { secret, otpauthUri: uri, qrCodeSvg: await totpQrCode(uri) };
    },
    /** Confirms enrollment with a current code; returns ten recovery codes, shown once. */
    async confirmTotp(ctx: RequestContext, organizationId: string, userId: string, code: string) {
      await mustGetUser(organizationId, userId);
      const c = await credentialsOf(organizationId, userId);
      if (!c.totpSealed) throw new AppError('mfa_code_invalid', 'Start the enrollment first');
      if (!checkTotp(secretBox.open(c.totpSealed, totpContext(c)), code, clock.now())) {
        throw new AppError(
          'mfa_code_invalid',
          'The code does not match; check the device clock and try again',
        );
      }
      const codes = newRecoveryCodes();
      c.totpConfirmedAt = now();
      c.recoveryCodes = codes.map(hashRecoveryCode);
      await saveWithEvents(c, ctx, [
        {
          organizationId,
          type: 'user.mfa.enrolled',
          target: { type: 'user', id: userId },
          data: { method: 'totp', recoveryCodes: codes.length },
        },
      ]);
      return { recoveryCodes: codes };
    },
    async removeTotp(ctx: RequestContext, organizationId: string, userId: string): Promise<void> {
      await mustGetUser(organizationId, userId);
      const c = await credentialsOf(organizationId, userId);
      c.totpSealed = null;
      c.totpConfirmedAt = null;
      c.recoveryCodes = [];
      await saveWithEvents(c, ctx, [
        {
          organizationId,
          type: 'user.updated',
          target: { type: 'user', id: userId },
          data: { changes: ['mfa.totp'], removed: true },
        },
      ]);
    },
  };
  return service;
}

export type MfaService = ReturnType<typeof createMfaService>;
