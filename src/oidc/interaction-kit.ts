import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { InteractionResults } from 'oidc-provider';
import type { RequestContext } from '../domain/shared/types.ts';
import { requestContext } from '../http/context.ts';
import type { Services } from '../services.ts';
import type { Engine } from './engine.ts';
import type { FormContext } from './hosted-pages.ts';
import { PAGE_HEADERS, page } from './views.ts';

/** Sign-in state between the password step and the second factor, keyed by interaction uid. */
const PENDING = 'LatchkeyLogin';
const PENDING_TTL_MS = 10 * 60_000;

export interface Pending {
  userId: string;
  amr: string[];
  stage: 'second_factor' | 'enroll' | 'enrolled';
}

export type Details = Awaited<ReturnType<Engine['provider']['interactionDetails']>>;
export type Req = FastifyRequest<{
  Params: { org: string; uid: string };
  Body: Record<string, string> | undefined;
}>;

export const LOCKED_MESSAGE =
  'Too many failed attempts. Sign-in from this network is paused; try again later or ask an administrator to unlock your account.';

/**
 * The hosted login: server-rendered pages driving oidc-provider's
 * interactions (sign-in, second factor, TOTP enrollment, consent). Forms carry
 * a CSRF token bound to the interaction (HMAC of its uid), and the
 * interaction itself is bound to the browser by the engine's cookie.
 */

/**
 * What every step of the hosted login shares: loading the interaction,
 * CSRF tokens bound to it (HMAC of its uid; the interaction itself is bound
 * to the browser by the engine's cookie), rendering, the state kept between
 * the password and the second factor, completing sign-in and consent.
 */
export function createInteractionKit(s: Services) {
  const { engines, credentials, sessions } = s.oauth;

  const csrfFor = (org: string, uid: string) =>
    createHmac('sha256', s.oauth.csrfKey).update(`${org}:${uid}`).digest('base64url');

  function csrfOk(request: Req): boolean {
    const sent = Buffer.from(String(request.body?.csrf ?? ''));
    const expected = Buffer.from(csrfFor(request.params.org, request.params.uid));
    return sent.length === expected.length && timingSafeEqual(sent, expected);
  }

  function render(reply: FastifyReply, html: string, status = 200) {
    return reply.code(status).headers(PAGE_HEADERS).send(html);
  }

  async function load(request: Req, reply: FastifyReply) {
    const engine = await engines.get(request.params.org);
    if (!engine) {
      render(reply, page('Not found', '<p class="error" role="alert">No such organization.</p>'), 404);
      return undefined;
    }
    let details: Details;
    try {
      details = await engine.provider.interactionDetails(request.raw, reply.raw);
    } catch {
      render(
        reply,
        page(
          'Sign-in expired',
          '<p class="error" role="alert">This sign-in request has expired or was opened in another browser. Go back to the application and start again.</p>',
        ),
        400,
      );
      return undefined;
    }
    if (details.uid !== request.params.uid) {
      render(
        reply,
        page('Sign-in expired', '<p class="error" role="alert">Start the sign-in again.</p>'),
        400,
      );
      return undefined;
    }
    const form: FormContext = {
      base: `/oidc/${request.params.org}/interaction/${details.uid}`,
      csrf: csrfFor(request.params.org, details.uid),
    };
    return { engine, details, form };
  }

  async function finish(engine: Engine, request: Req, reply: FastifyReply, result: InteractionResults) {
    const to = await engine.provider.interactionResult(request.raw, reply.raw, result, {
      mergeWithLastSubmission: false,
    });
    return reply.code(303).header('cache-control', 'no-store').redirect(to);
  }

  const pendingKey = (org: string, uid: string) => ({ organizationId: org, model: PENDING, id: uid });

  async function getPending(org: string, uid: string): Promise<Pending | undefined> {
    const row = await s.store.oidc.find(pendingKey(org, uid));
    if (!row || (row.expiresAt !== null && row.expiresAt <= s.clock.now().toISOString())) return undefined;
    return row.payload as unknown as Pending;
  }

  async function setPending(org: string, uid: string, pending: Pending) {
    const now = s.clock.now();
    await s.store.oidc.upsert({
      ...pendingKey(org, uid),
      payload: { ...pending },
      grantId: null,
      uid: null,
      userCode: null,
      accountId: null,
      expiresAt: new Date(now.getTime() + PENDING_TTL_MS).toISOString(),
      now: now.toISOString(),
    });
  }

  const userCtx = (ctx: RequestContext, user: { id: string; email: string }): RequestContext => ({
    ...ctx,
    actor: { type: 'user', id: user.id, display: user.email },
  });

  async function completeLogin(
    engine: Engine,
    request: Req,
    reply: FastifyReply,
    details: Details,
    userId: string,
    amr: string[],
  ) {
    const org = request.params.org;
    const user = await s.users.get(org, userId);
    const ctx = userCtx(requestContext(request), user);
    await credentials.loginSucceeded(ctx, user, amr);
    await sessions.recordCreated(ctx, org, user.id, String(details.params.client_id));
    await s.store.oidc.destroy(pendingKey(org, details.uid));
    return finish(engine, request, reply, {
      login: { accountId: user.id, amr, acr: amr.length > 1 ? 'urn:latchkey:mfa' : 'urn:latchkey:pwd' },
    });
  }

  /** Grants what was asked, narrowed to the user's permissions for API scopes. */
  async function grantConsent(engine: Engine, details: Details, org: string) {
    const { provider } = engine;
    const accountId = String(details.session?.accountId);
    const clientId = String(details.params.client_id);
    const grant = details.grantId
      ? ((await provider.Grant.find(details.grantId)) ?? new provider.Grant({ accountId, clientId }))
      : new provider.Grant({ accountId, clientId });
    const prompt = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (prompt.missingOIDCScope) grant.addOIDCScope(prompt.missingOIDCScope.join(' '));
    if (prompt.missingOIDCClaims) grant.addOIDCClaims(prompt.missingOIDCClaims);
    const held = new Set(await s.roles.effectivePermissions(org, accountId));
    for (const [resource, scopes] of Object.entries(prompt.missingResourceScopes ?? {})) {
      const allowed = scopes.filter((x) => held.has(x));
      const denied = scopes.filter((x) => !held.has(x));
      if (allowed.length) grant.addResourceScope(resource, allowed.join(' '));
      // Recorded as encountered so the engine does not ask again for what the user cannot grant.
      if (denied.length) grant.rejectResourceScope(resource, denied.join(' '));
    }
    return grant.save();
  }

  async function requestedScopes(details: Details, org: string) {
    const prompt = details.prompt.details as {
      missingOIDCScope?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    const held = new Set(await s.roles.effectivePermissions(org, String(details.session?.accountId)));
    const api = Object.values(prompt.missingResourceScopes ?? {}).flat();
    return {
      scopes: [
        ...(prompt.missingOIDCScope ?? []).filter((x) => x !== 'openid'),
        ...api.filter((x) => held.has(x)),
      ],
      denied: api.filter((x) => !held.has(x)),
    };
  }

  return {
    csrfOk,
    render,
    load,
    finish,
    getPending,
    setPending,
    userCtx,
    completeLogin,
    grantConsent,
    requestedScopes,
  };
}

export type InteractionKit = ReturnType<typeof createInteractionKit>;
