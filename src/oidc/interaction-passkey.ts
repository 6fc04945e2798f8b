import type { FastifyInstance } from 'fastify';
import { requestContext } from '../http/context.ts';
import { loginPage, secondFactorPage } from './hosted-pages.ts';
import { type InteractionKit, LOCKED_MESSAGE, type Req } from './interaction-kit.ts';
import type { OAuthModule } from './module.ts';
import { PASSKEY_SCRIPT } from './passkey-script.ts';

/** The passkey (WebAuthn) alternative of the second-factor step. */
export function registerPasskeyStep(scope: FastifyInstance, kit: InteractionKit, oauth: OAuthModule): void {
  const { credentials, webauthn } = oauth;
  const { csrfOk, render, load, getPending, completeLogin } = kit;
  const opts = { config: { auth: 'none' as const }, schema: { hide: true } };

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
      return render(reply, loginPage(form, { clientName: 'the application', error: 'Sign in again.' }), 400);
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
      return render(reply, secondFactorPage(form, { error, passkey: true }), reason === 'locked' ? 429 : 401);
    }
    return completeLogin(engine, request, reply, details, pending.userId, ['pwd', 'hwk']);
  });
}
