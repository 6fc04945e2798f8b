import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors/app-error.ts';

export interface HttpsOnlyOptions {
  allowInjectedPlainHttp: boolean;
  isTrustedProxy: (ip: string | undefined) => boolean;
}

/**
 * Plain HTTP never gets data. `latchkey serve` listens on TLS only. Behind a
 * trusted proxy (LATCHKEY_TRUST_PROXY), X-Forwarded-Proto says how the client
 * reached the proxy, and anything but https is refused; the header is ignored
 * from any other peer. In-process requests made by tests through `inject()`
 * (and the benchmark's plain-HTTP listener) are allowed only when the app was
 * built with `allowInjectedPlainHttp`. Throws 403 `https_required`.
 */
export function requireHttps(request: FastifyRequest, options: HttpsOnlyOptions): void {
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
}
