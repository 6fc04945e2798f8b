import type { FastifyRequest } from 'fastify';
import { createLocalJWKSet, decodeJwt, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { Principal } from '../domain/auth/principal.ts';
import type { SigningKeyService } from '../domain/oauth/signing-keys.ts';
import type { RoleService } from '../domain/roles/service.ts';
import type { Clock } from '../domain/shared/clock.ts';
import type { AccessTokenVerifier } from '../http/authenticate.ts';
import type { Store } from '../store/store.ts';

/**
 * Latchkey's own API accepts RFC 9068 access tokens issued by any of its
 * organizations' issuers for the Latchkey resource. The token's scopes act
 * as permissions, narrowed to what the user's roles grant now, so removing
 * a role takes effect before the token expires.
 */
export function createAccessTokenVerifier(deps: {
  store: Store;
  clock: Clock;
  roles: RoleService;
  signingKeys: SigningKeyService;
  publicUrl: string;
  latchkeyResource: string;
}): AccessTokenVerifier & { invalidate(organizationId: string): void } {
  const prefix = `${deps.publicUrl}/oidc/`;
  const keySets = new Map<string, Promise<JWTVerifyGetKey>>();

  const loadedAt = new Map<string, number>();

  function keySet(organizationId: string): Promise<JWTVerifyGetKey> {
    let set = keySets.get(organizationId);
    const age = deps.clock.now().getTime() - (loadedAt.get(organizationId) ?? 0);
    // Reloaded after a minute as well, for rotations made by the CLI or another node.
    if (!set || age > 60_000) {
      loadedAt.set(organizationId, deps.clock.now().getTime());
      set = deps.signingKeys
        .published(organizationId)
        .then((keys) => createLocalJWKSet({ keys: keys.map((k) => k.publicJwk) }));
      keySets.set(organizationId, set);
    }
    return set;
  }

  return {
    invalidate(organizationId) {
      keySets.delete(organizationId);
    },
    async verify(token: string, _request: FastifyRequest): Promise<Principal | undefined> {
      let issuer: string | undefined;
      try {
        issuer = decodeJwt(token).iss;
      } catch {
        return undefined;
      }
      if (!issuer?.startsWith(prefix)) return undefined;
      const organizationId = issuer.slice(prefix.length);
      if (!/^org_[0-9a-z]{26}$/.test(organizationId)) return undefined;
      const org = await deps.store.organizations.get(organizationId);
      if (!org) return undefined;
      let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
      try {
        ({ payload } = await jwtVerify(token, await keySet(organizationId), {
          issuer,
          audience: deps.latchkeyResource,
          typ: 'at+jwt',
          currentDate: deps.clock.now(),
          algorithms: ['ES256', 'RS256', 'EdDSA'],
        }));
      } catch {
        return undefined;
      }
      const sub = payload.sub;
      // Client-credentials tokens (sub = the client) are for the organization's own APIs.
      if (typeof sub !== 'string' || sub === payload.client_id) return undefined;
      const user = await deps.store.users.get(organizationId, sub);
      if (user?.status !== 'active') return undefined;
      const held = new Set(await deps.roles.effectivePermissions(organizationId, sub));
      const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
      return {
        type: 'user',
        id: user.id,
        organizationId,
        rootOrganization: org.isRoot,
        display: user.email,
        permissions: new Set(scopes.filter((s) => held.has(s))),
        protected: false,
        scimOnly: false,
      };
    },
  };
}
