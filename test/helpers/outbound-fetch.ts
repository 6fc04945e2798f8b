import { OutboundError, type OutboundHttp } from '../../src/net/outbound.ts';

/**
 * A plain fetch-based OutboundHttp for tests that talk to receivers on
 * 127.0.0.1 (no SSRF guard: the real client comes with the event pipeline).
 */
export function createFetchOutbound(): OutboundHttp {
  return {
    async request(req) {
      const started = performance.now();
      try {
        const res = await fetch(req.url, {
          method: req.method ?? 'GET',
          headers: req.headers,
          body: req.body,
          redirect: 'manual',
          signal: AbortSignal.timeout(req.timeoutMs ?? 15_000),
        });
        const body = (await res.text()).slice(0, 4096);
        return {
          status: res.status,
          headers: Object.fromEntries(res.headers),
          body,
          latencyMs: performance.now() - started,
        };
      } catch (error) {
        throw new OutboundError('connection_failed', (error as Error).message);
      }
    },
    async assertAllowed(url) {
      if (!/^https?:\/\//.test(url)) throw new OutboundError('invalid_url', `not an http(s) URL: ${url}`);
    },
  };
}
