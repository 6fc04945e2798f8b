import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import { AppError } from '../../errors/app-error.ts';
import type { Store } from '../../store/store.ts';
import { buildEvent } from '../audit/events.ts';
import type { Clock } from '../shared/clock.ts';
import type { RequestContext } from '../shared/types.ts';

const CHALLENGE = 'WebauthnChallenge';
const CHALLENGE_TTL_MS = 5 * 60_000;

/**
 * WebAuthn passkeys as a second factor (`@simplewebauthn/server`). The
 * relying party is the host of LATCHKEY_PUBLIC_URL; challenges are single
 * use (consumed atomically) and expire after five minutes.
 */
export function createWebauthnService(deps: { store: Store; clock: Clock; publicUrl: string }) {
  const { store, clock } = deps;
  const rpID = new URL(deps.publicUrl).hostname;
  const origin = new URL(deps.publicUrl).origin;

  async function saveChallenge(organizationId: string, id: string, challenge: string) {
    const now = clock.now();
    await store.oidc.upsert({
      organizationId,
      model: CHALLENGE,
      id,
      payload: { challenge },
      grantId: null,
      uid: null,
      userCode: null,
      accountId: null,
      expiresAt: new Date(now.getTime() + CHALLENGE_TTL_MS).toISOString(),
      now: now.toISOString(),
    });
  }

  /** The stored challenge, consumed: a response can be checked against it once. */
  async function takeChallenge(organizationId: string, id: string): Promise<string | undefined> {
    const key = { organizationId, model: CHALLENGE, id };
    const row = await store.oidc.find(key);
    if (!row || (row.expiresAt !== null && row.expiresAt <= clock.now().toISOString())) return undefined;
    if (!(await store.oidc.consume(key, clock.now().toISOString()))) return undefined;
    await store.oidc.destroy(key);
    return String(row.payload.challenge);
  }

  return {
    rpID,
    origin,

    async registrationOptions(organizationId: string, userId: string) {
      const user = await store.users.get(organizationId, userId);
      if (!user) throw new AppError('not_found', 'No such user');
      const existing = await store.credentials.listWebauthn(organizationId, userId);
      const options = await generateRegistrationOptions({
        rpName: 'Latchkey',
        rpID,
        userName: user.email,
        userID: new TextEncoder().encode(user.id),
        attestationType: 'none',
        excludeCredentials: existing.map((c) => ({ id: c.id, transports: c.transports })),
        authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
      });
      await saveChallenge(organizationId, `reg:${userId}`, options.challenge);
      return options;
    },

    async register(
      ctx: RequestContext,
      organizationId: string,
      userId: string,
      response: RegistrationResponseJSON,
    ) {
      const expectedChallenge = await takeChallenge(organizationId, `reg:${userId}`);
      if (!expectedChallenge) throw new AppError('mfa_code_invalid', 'Ask for registration options first');
      let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
      try {
        verified = await verifyRegistrationResponse({
          response,
          expectedChallenge,
          expectedOrigin: origin,
          expectedRPID: rpID,
        });
      } catch (error) {
        throw new AppError(
          'mfa_code_invalid',
          `The passkey registration was refused: ${(error as Error).message}`,
        );
      }
      if (!verified.verified) throw new AppError('mfa_code_invalid', 'The passkey registration was refused');
      const { credential } = verified.registrationInfo;
      await store.transaction(async (tx) => {
        await tx.credentials.addWebauthn({
          id: credential.id,
          organizationId,
          userId,
          publicKey: Buffer.from(credential.publicKey).toString('base64url'),
          counter: credential.counter,
          transports: credential.transports ?? [],
          createdAt: clock.now().toISOString(),
        });
        await tx.events.append([
          buildEvent(clock, ctx, {
            organizationId,
            type: 'user.mfa.enrolled',
            target: { type: 'user', id: userId },
            data: { method: 'webauthn', credentialId: credential.id },
          }),
        ]);
      });
      return { id: credential.id };
    },

    async hasPasskeys(organizationId: string, userId: string): Promise<boolean> {
      return (await store.credentials.listWebauthn(organizationId, userId)).length > 0;
    },

    async authenticationOptions(organizationId: string, userId: string, attempt: string) {
      const creds = await store.credentials.listWebauthn(organizationId, userId);
      const options = await generateAuthenticationOptions({
        rpID,
        allowCredentials: creds.map((c) => ({ id: c.id, transports: c.transports as never })),
        userVerification: 'preferred',
      });
      await saveChallenge(organizationId, `auth:${attempt}`, options.challenge);
      return options;
    },

    /** True when the assertion is valid for one of the user's passkeys; updates its counter. */
    async authenticate(
      organizationId: string,
      userId: string,
      attempt: string,
      response: AuthenticationResponseJSON,
    ): Promise<boolean> {
      const expectedChallenge = await takeChallenge(organizationId, `auth:${attempt}`);
      if (!expectedChallenge) return false;
      const creds = await store.credentials.listWebauthn(organizationId, userId);
      const cred = creds.find((c) => c.id === response.id);
      if (!cred) return false;
      try {
        const result = await verifyAuthenticationResponse({
          response,
          expectedChallenge,
          expectedOrigin: origin,
          expectedRPID: rpID,
          credential: {
            id: cred.id,
            publicKey: new Uint8Array(Buffer.from(cred.publicKey, 'base64url')),
            counter: cred.counter,
            transports: cred.transports,
          },
        });
        if (!result.verified) return false;
        await store.credentials.setWebauthnCounter(cred.id, result.authenticationInfo.newCounter);
        return true;
      } catch {
        return false;
      }
    },
  };
}

export type WebauthnService = ReturnType<typeof createWebauthnService>;
