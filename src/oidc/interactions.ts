import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { InteractionResults } from 'oidc-provider';
import type { RequestContext } from '../domain/shared/types.ts';
import { requestContext } from '../http/context.ts';
import type { Services } from '../services.ts';
import type { Engine } from './engine.ts';
import {
  consentPage,
  enrollPage,
  type FormContext,
  loginPage,
  recoveryCodesPage,
  secondFactorPage,
} from './hosted-pages.ts';
import { PASSKEY_SCRIPT } from './passkey-script.ts';
import { PAGE_HEADERS, page } from './views.ts';

/** Sign-in state between the password step and the second factor, keyed by interaction uid. */
const PENDING = 'LatchkeyLogin';
const PENDING_TTL_MS = 10 * 60_000;

interface Pending {
  userId: string;
  amr: string[];
  stage: 'second_factor' | 'enroll' | 'enrolled';
}

type Details = Awaited<ReturnType<Engine['provider']['interactionDetails']>>;
type Req = FastifyRequest<{ Params: { org: string; uid: string }; Body: Record<string, string> | undefined }>;

const LOCKED_MESSAGE =
  'Too many failed attempts. Sign-in from this network is paused; try again later or ask an administrator to unlock your account.';

/**
 * The hosted login: server-rendered pages driving oidc-provider's
 * interactions (sign-in, second factor, TOTP enrollment, consent). Forms carry
 * a CSRF token bound to the interaction (HMAC of its uid), and the
 * interaction itself is bound to the browser by the engine's cookie.
 */
export async function registerHostedLogin(app: FastifyInstance, s: Services): Promise<void> {
  const { engines, credentials, sessions, webauthn } = s.oauth;

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

  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 16_384 },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
    );
    const opts = { config: { auth: 'none' as const }, schema: { hide: true } };

    scope.get('/oidc/:org/interaction/:uid', opts, async (request: Req, reply) => {
      const loaded = await load(request, reply);
      if (!loaded) return reply;
      const { engine, details, form } = loaded;
      const client = engine.clientOf(String(details.params.client_id));
      if (details.prompt.name === 'login') {
        const pending = await getPending(request.params.org, details.uid);
        if (pending?.stage === 'second_factor') {
          const passkey = await webauthn.hasPasskeys(request.params.org, pending.userId);
          return render(reply, secondFactorPage(form, { passkey }));
        }
        return render(reply, loginPage(form, { clientName: client?.name ?? 'the application' }));
      }
      if (details.prompt.name === 'consent') {
        if (client?.firstParty) {
          const grantId = await grantConsent(engine, details, request.params.org);
          return finish(engine, request, reply, { consent: { grantId } });
        }
        const { scopes, denied } = await requestedScopes(details, request.params.org);
        return render(
          reply,
          consentPage(form, { client: { name: client?.name ?? 'An application' }, scopes, denied }),
        );
      }
      return render(
        reply,
        page('Unsupported', '<p class="error" role="alert">Unsupported sign-in step.</p>'),
        400,
      );
    });

    scope.post('/oidc/:org/interaction/:uid/login', opts, async (request: Req, reply) => {
      const loaded = await load(request, reply);
      if (!loaded) return reply;
      const { engine, details, form } = loaded;
      const clientName = engine.clientOf(String(details.params.client_id))?.name ?? 'the application';
      if (!csrfOk(request))
        return render(reply, loginPage(form, { clientName, error: 'The form expired; try again.' }), 403);
      const email = String(request.body?.email ?? '').trim();
      const password = String(request.body?.password ?? '');
      if (!email || !password) {
        return render(
          reply,
          loginPage(form, { clientName, email, error: 'Enter your email and password.' }),
          400,
        );
      }
      const result = await credentials.checkPassword(
        requestContext(request),
        request.params.org,
        email,
        password,
      );
      if (!result.ok) {
        const error = result.reason === 'locked' ? LOCKED_MESSAGE : 'Wrong email or password.';
        return render(
          reply,
          loginPage(form, { clientName, email, error }),
          result.reason === 'locked' ? 429 : 401,
        );
      }
      if (result.secondFactor) {
        await setPending(request.params.org, details.uid, {
          userId: result.user.id,
          amr: ['pwd'],
          stage: 'second_factor',
        });
        const passkey = await webauthn.hasPasskeys(request.params.org, result.user.id);
        return render(reply, secondFactorPage(form, { passkey }));
      }
      if (result.mfaEnrollmentNeeded) {
        await setPending(request.params.org, details.uid, {
          userId: result.user.id,
          amr: ['pwd'],
          stage: 'enroll',
        });
        const enrollment = await credentials.startTotp(request.params.org, result.user.id, 'Latchkey');
        return render(reply, enrollPage(form, enrollment));
      }
      return completeLogin(engine, request, reply, details, result.user.id, ['pwd']);
    });

    scope.post('/oidc/:org/interaction/:uid/mfa', opts, async (request: Req, reply) => {
      const loaded = await load(request, reply);
      if (!loaded) return reply;
      const { engine, details, form } = loaded;
      const pending = await getPending(request.params.org, details.uid);
      if (pending?.stage !== 'second_factor' || !csrfOk(request)) {
        return render(
          reply,
          loginPage(form, { clientName: 'the application', error: 'Sign in again.' }),
          400,
        );
      }
      const code = String(request.body?.code ?? '');
      const result = await credentials.checkSecondFactor(
        requestContext(request),
        request.params.org,
        pending.userId,
        code,
      );
      if (!result.ok) {
        const error = result.reason === 'locked' ? LOCKED_MESSAGE : 'That code is not valid. Try again.';
        const passkey = await webauthn.hasPasskeys(request.params.org, pending.userId);
        return render(
          reply,
          secondFactorPage(form, { error, passkey }),
          result.reason === 'locked' ? 429 : 401,
        );
      }
      return completeLogin(engine, request, reply, details, pending.userId, [
        'pwd',
        result.method === 'otp' ? 'otp' : 'kba',
      ]);
    });

    scope.get('/oidc/:org/interaction/:uid/webauthn.js', opts, async (_request, reply) =>
      reply
        .header('content-type', 'text/javascript; charset=utf-8')
        .header('cache-control', 'public, max-age=3600')
        .send(PASSKEY_SCRIPT),
    );

    scope.post('/oidc/:org/interaction/:uid/webauthn/options', opts, async (request: Req, reply) => {
      const loaded = await load(request, reply);
      if (!loaded) return reply;
      const pending = await getPending(request.params.org, loaded.details.uid);
      if (pending?.stage !== 'second_factor' || !csrfOk(request)) {
        return reply.code(400).send({ error: 'invalid_request' });
      }
      const options = await webauthn.authenticationOptions(
        request.params.org,
        pending.userId,
        loaded.details.uid,
      );
      return reply.header('cache-control', 'no-store').send(options);
    });

    scope.post('/oidc/:org/interaction/:uid/webauthn', opts, async (request: Req, reply) => {
      const loaded = await load(request, reply);
      if (!loaded) return reply;
      const { engine, details, form } = loaded;
      const org = request.params.org;
      const pending = await getPending(org, details.uid);
      if (pending?.stage !== 'second_factor' || !csrfOk(request)) {
        return render(
          reply,
          loginPage(form, { clientName: 'the application', error: 'Sign in again.' }),
          400,
        );
      }
      const ctx = requestContext(request);
      if (await credentials.isLocked(ctx, org, pending.userId)) {
        return render(reply, secondFactorPage(form, { error: LOCKED_MESSAGE }), 429);
      }
      let assertion: unknown;
      try {
        assertion = JSON.parse(String(request.body?.assertion ?? ''));
      } catch {
        assertion = undefined;
      }
      const ok =
        assertion !== undefined &&
        (await webauthn.authenticate(org, pending.userId, details.uid, assertion as never));
      if (!ok) {
        const reason = await credentials.secondFactorFailed(ctx, org, pending.userId);
        const error =
          reason === 'locked' ? LOCKED_MESSAGE : 'The passkey was not accepted. Try again or enter a code.';
        return render(
          reply,
          secondFactorPage(form, { error, passkey: true }),
          reason === 'locked' ? 429 : 401,
        );
      }
      return completeLogin(engine, request, reply, details, pending.userId, ['pwd', 'hwk']);
    });

    scope.post('/oidc/:org/interaction/:uid/enroll', opts, async (request: Req, reply) => {
      const loaded = await load(request, reply);
      if (!loaded) return reply;
      const { details, form } = loaded;
      const pending = await getPending(request.params.org, details.uid);
      if (pending?.stage !== 'enroll' || !csrfOk(request)) {
        return render(
          reply,
          loginPage(form, { clientName: 'the application', error: 'Sign in again.' }),
          400,
        );
      }
      const user = await s.users.get(request.params.org, pending.userId);
      try {
        const { recoveryCodes } = await credentials.confirmTotp(
          userCtx(requestContext(request), user),
          request.params.org,
          pending.userId,
          String(request.body?.code ?? ''),
        );
        await setPending(request.params.org, details.uid, {
          ...pending,
          amr: ['pwd', 'otp'],
          stage: 'enrolled',
        });
        return render(reply, recoveryCodesPage(form, recoveryCodes));
      } catch {
        const enrollment = await credentials.startTotp(request.params.org, pending.userId, 'Latchkey');
        return render(
          reply,
          enrollPage(form, {
            ...enrollment,
            error: 'That code is not valid. Scan the new code and try again.',
          }),
          401,
        );
      }
    });

    scope.post('/oidc/:org/interaction/:uid/continue', opts, async (request: Req, reply) => {
      const loaded = await load(request, reply);
      if (!loaded) return reply;
      const { engine, details, form } = loaded;
      const pending = await getPending(request.params.org, details.uid);
      if (pending?.stage !== 'enrolled' || !csrfOk(request)) {
        return render(
          reply,
          loginPage(form, { clientName: 'the application', error: 'Sign in again.' }),
          400,
        );
      }
      return completeLogin(engine, request, reply, details, pending.userId, pending.amr);
    });

    scope.post('/oidc/:org/interaction/:uid/consent', opts, async (request: Req, reply) => {
      const loaded = await load(request, reply);
      if (!loaded) return reply;
      const { engine, details } = loaded;
      if (!csrfOk(request) || details.prompt.name !== 'consent') {
        return render(reply, page('Sign-in expired', '<p class="error" role="alert">Start again.</p>'), 400);
      }
      if (request.body?.decision !== 'allow') {
        return finish(engine, request, reply, {
          error: 'access_denied',
          error_description: 'The user denied the request',
        });
      }
      const grantId = await grantConsent(engine, details, request.params.org);
      return finish(engine, request, reply, { consent: { grantId } });
    });

    scope.post('/oidc/:org/interaction/:uid/abort', opts, async (request: Req, reply) => {
      const loaded = await load(request, reply);
      if (!loaded) return reply;
      if (!csrfOk(request)) return render(reply, page('Sign-in expired', '<p>Start again.</p>'), 400);
      return finish(loaded.engine, request, reply, {
        error: 'access_denied',
        error_description: 'The user cancelled the sign-in',
      });
    });
  });
}
