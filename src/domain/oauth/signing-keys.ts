import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { newId } from '../../crypto/ids.ts';
import type { SecretBox } from '../../crypto/secret-box.ts';
import type { SigningKey } from '../../store/repos/signing-keys.ts';
import type { Store } from '../../store/store.ts';
import { buildEvent } from '../audit/events.ts';
import type { Clock } from '../shared/clock.ts';
import type { RequestContext } from '../shared/types.ts';

export const SIGNING_ALGS = ['ES256', 'RS256', 'EdDSA'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

/**
 * How long a rotated key stays in the JWKS: longer than any token it signed
 * can live (ID tokens and JWT access tokens are at most one hour here), so
 * verifiers never see an unknown `kid` during rotation.
 */
export const ROTATION_OVERLAP_MS = 24 * 3600_000;

const context = (organizationId: string, kid: string) => `signing-key:${organizationId}:${kid}`;

export interface PublicSigningKey {
  id: string;
  alg: string;
  status: 'active' | 'rotated';
  createdAt: string;
  rotatedAt: string | null;
  retireAt: string | null;
  publicJwk: Record<string, unknown>;
}

/** Per-organization token signing keys; private JWKs are sealed with the master key. */
export function createSigningKeyService(deps: {
  store: Store;
  clock: Clock;
  secretBox: SecretBox;
  onChange: (organizationId: string) => void;
}) {
  const { store, clock, secretBox } = deps;

  async function generate(organizationId: string, alg: SigningAlg): Promise<SigningKey> {
    const { privateKey, publicKey } = await generateKeyPair(alg, {
      extractable: true,
      ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
      ...(alg === 'RS256' ? { modulusLength: 2048 } : {}),
    });
    const kid = newId('sk', clock.now().getTime());
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
    return {
      id: kid,
      organizationId,
      alg,
      status: 'active',
      publicJwk,
      privateJwkSealed: secretBox.seal(JSON.stringify(privateJwk), context(organizationId, kid)),
      createdAt: clock.now().toISOString(),
      rotatedAt: null,
      retireAt: null,
    };
  }

  const toPublic = (k: SigningKey): PublicSigningKey => ({
    id: k.id,
    alg: k.alg,
    status: k.status,
    createdAt: k.createdAt,
    rotatedAt: k.rotatedAt,
    retireAt: k.retireAt,
    publicJwk: k.publicJwk,
  });

  const service = {
    /** Published keys (active first); creates the first ES256 key of an organization on demand. */
    async published(organizationId: string): Promise<SigningKey[]> {
      const keys = await store.signingKeys.listPublished(organizationId, clock.now().toISOString());
      if (keys.some((k) => k.status === 'active')) return keys;
      const key = await generate(organizationId, 'ES256');
      await store.signingKeys.insert(key);
      return store.signingKeys.listPublished(organizationId, clock.now().toISOString());
    },

    async list(organizationId: string): Promise<PublicSigningKey[]> {
      return (await service.published(organizationId)).map(toPublic);
    },

    /** Private JWKs for the engine, the active key first (the engine signs with the first match). */
    async privateJwks(organizationId: string): Promise<JWK[]> {
      return (await service.published(organizationId)).map(
        (k) => JSON.parse(secretBox.open(k.privateJwkSealed, context(organizationId, k.id))) as JWK,
      );
    },

    /** New active key; the previous one stays published for ROTATION_OVERLAP_MS. */
    async rotate(ctx: RequestContext, organizationId: string, alg: SigningAlg = 'ES256') {
      const key = await generate(organizationId, alg);
      const now = clock.now();
      await store.transaction(async (tx) => {
        await tx.signingKeys.retireActive(
          organizationId,
          now.toISOString(),
          new Date(now.getTime() + ROTATION_OVERLAP_MS).toISOString(),
        );
        await tx.signingKeys.insert(key);
        await tx.events.append([
          buildEvent(clock, ctx, {
            organizationId,
            type: 'signing_key.rotated',
            target: { type: 'signing_key', id: key.id },
            data: { alg },
          }),
        ]);
      });
      deps.onChange(organizationId);
      return toPublic(key);
    },
  };
  return service;
}

export type SigningKeyService = ReturnType<typeof createSigningKeyService>;
