import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors/app-error.ts';

/**
 * Plain HTTP never gets data. `latchkey serve` listens on TLS only. Behind a
 * trusted proxy (LATCHKEY_TRUST_PROXY), X-Forwarded-Proto says how the client
 * reached the proxy, and anything but https is refused; the header is ignored
 * from any other peer. In-process requests made by tests through `inject()`
 * are allowed only when the app was built with `allowInjectedPlainHttp`.
 */
export function registerHttpsOnly(
  app: FastifyInstance,
  options: { allowInjectedPlainHttp: boolean; isTrustedProxy: (ip: string | undefined) => boolean },
): void {
  app.addHook('onRequest', async (request) => {
    const socket = request.raw.socket as { encrypted?: boolean; remoteAddress?: string } | undefined;
    const proto = request.headers['x-forwarded-proto'];
    const forwarded =
      typeof proto === 'string' && options.isTrustedProxy(socket?.remoteAddress)
        ? proto.split(',')[0]?.trim()
        : undefined;
    if (forwarded !== undefined) {
      if (forwarded === 'https') return;
      throw new AppError(
        'https_required',
        'The client reached the proxy over plain HTTP; Latchkey only answers https://',
      );
    }
    if (socket?.encrypted || options.allowInjectedPlainHttp) return;
    throw new AppError('https_required', 'Latchkey only serves data over HTTPS; use https://');
  });
}
