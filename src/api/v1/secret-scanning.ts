import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../../errors/app-error.ts';
import { requestContext } from '../../http/context.ts';
import type { Services } from '../../services.ts';

const Report = Type.Array(
  Type.Object(
    {
      token: Type.String({ minLength: 1, maxLength: 1000 }),
      type: Type.String({ maxLength: 200 }),
      url: Type.Optional(Type.String({ maxLength: 2000 })),
      source: Type.Optional(Type.String({ maxLength: 200 })),
    },
    { additionalProperties: true },
  ),
  { maxItems: 1000, description: 'GitHub secret scanning partner program: the matches GitHub found.' },
);

const Labels = Type.Array(
  Type.Object({
    token_hash: Type.String({ description: 'Hex SHA-256 of the reported token.' }),
    token_type: Type.String(),
    label: Type.Union([Type.Literal('true_positive'), Type.Literal('false_positive')]),
  }),
);

/**
 * Registered in its own encapsulated context so that only this route keeps
 * the raw body: the signature covers the exact bytes GitHub sent.
 */
export default function secretScanningRoutes(app: FastifyInstance, s: Services): void {
  app.register(async (scope) => {
    // The signature is checked on the exact bytes received, before they are parsed or validated:
    // an unsigned or badly signed report is refused whatever it contains, and changes nothing.
    scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
      const raw = body as Buffer;
      const header = (name: string) => {
        const v = request.headers[name];
        return typeof v === 'string' ? v : undefined;
      };
      try {
        s.secretScanning.authenticate(
          raw,
          header('github-public-key-identifier'),
          header('github-public-key-signature'),
        );
      } catch (error) {
        done(error as Error, undefined);
        return;
      }
      try {
        done(null, JSON.parse(raw.toString('utf8')));
      } catch {
        done(new AppError('malformed_json', 'The request body is not valid JSON'), undefined);
      }
    });
    const r = scope.withTypeProvider<TypeBoxTypeProvider>();
    r.post(
      '/v1/secret-scanning/reports',
      {
        config: { auth: 'none' },
        schema: {
          tags: ['API keys'],
          summary: 'Leaked-key report (secret scanning)',
          description:
            'For secret scanning partners (GitHub): a JSON array of `{token, type, url, source}`, signed with ECDSA P-256 over the raw body (`Github-Public-Key-Identifier`, `Github-Public-Key-Signature`: base64 DER) by a key configured in `LATCHKEY_SECRET_SCANNING_KEYS`. Each live Latchkey key reported is revoked at once with reason `leaked` (its URL kept) and `api_key.leaked` is written; the answer labels every token by hash. An unsigned or badly signed report answers 401 `invalid_signature` and changes nothing.',
          security: [{ secretScanningSignature: [] }],
          body: Report,
          response: {
            200: Labels,
            400: Type.Ref('Problem', { description: 'Malformed JSON' }),
            401: Type.Ref('Problem', {
              description: 'Missing, unknown or invalid signature (`invalid_signature`)',
            }),
            422: Type.Ref('Problem', { description: 'The body is not a list of reports' }),
          },
        },
      },
      async (request) =>
        s.secretScanning.report(
          scannerContext(requestContext(request), request.headers['github-public-key-identifier']),
          request.body,
        ),
    );
  });
}

function scannerContext(ctx: ReturnType<typeof requestContext>, keyId: unknown) {
  return {
    ...ctx,
    actor: {
      type: 'system' as const,
      id: 'secret-scanning',
      display: `secret scanning report (key ${typeof keyId === 'string' ? keyId.slice(0, 100) : '?'})`,
    },
  };
}
