import type { FastifyInstance } from 'fastify';
import { requestContext } from '../http/context.ts';
import type { Services } from '../services.ts';
import { consentPage, enrollPage, loginPage, recoveryCodesPage, secondFactorPage } from './hosted-pages.ts';
import { createInteractionKit, LOCKED_MESSAGE, type Req } from './interaction-kit.ts';
import { registerPasskeyStep } from './interaction-passkey.ts';
import { page } from './views.ts';

/**
 * The hosted login: server-rendered pages driving oidc-provider's
 * interactions (sign-in, second factor, TOTP enrollment, consent), in an
 * encapsulated plugin that parses URL-encoded forms.
 */
export async function registerHostedLogin(app: FastifyInstance, s: Services): Promise<void> {
  const { credentials, webauthn } = s.oauth;
  const kit = createInteractionKit(s);
  const {
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
  } = kit;

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
        const enrollment = await s.oauth.mfa.startTotp(request.params.org, result.user.id, 'Latchkey');
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

    registerPasskeyStep(scope, kit, s.oauth);

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
        const { recoveryCodes } = await s.oauth.mfa.confirmTotp(
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
        const enrollment = await s.oauth.mfa.startTotp(request.params.org, pending.userId, 'Latchkey');
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
