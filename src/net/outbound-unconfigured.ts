import { OutboundError, type OutboundHttp } from './outbound.ts';

/**
 * Used until the SSRF-guarded client (issue 5) is wired in `createServices`:
 * refuses every request rather than sending one without the guard.
 */
export const unconfiguredOutbound: OutboundHttp = {
  async request() {
    throw new OutboundError('ssrf_blocked', 'no guarded outbound HTTP client is configured');
  },
  async assertAllowed() {},
};
