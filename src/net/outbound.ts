/**
 * Every outbound HTTP request (webhooks, alert channels, workflow steps) goes
 * through an OutboundHttp (and the email channel's SMTP connection through its
 * `resolveAllowed`), whose real implementation guards against SSRF:
 * it resolves the host, refuses loopback, private, link-local and
 * cloud-metadata addresses on the address actually connected to (unless the
 * host or address is in LATCHKEY_OUTBOUND_ALLOWLIST), does not follow
 * redirects, and enforces a timeout.
 *
 * The implementation (`createOutboundHttp`) lives beside this interface.
 */
export interface OutboundRequest {
  url: string;
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  body?: string;
  /** Milliseconds before the request is aborted; default 15 000. */
  timeoutMs?: number;
}

export interface OutboundResponse {
  status: number;
  headers: Record<string, string>;
  /** The first bytes of the response body (at most 4 KiB), as text. */
  body: string;
  /** Milliseconds from start to the end of the response. */
  latencyMs: number;
}

export type OutboundErrorCode =
  | 'ssrf_blocked'
  | 'invalid_url'
  | 'timeout'
  | 'connection_failed'
  | 'insecure_scheme';

export class OutboundError extends Error {
  readonly code: OutboundErrorCode;
  constructor(code: OutboundErrorCode, message: string) {
    super(message);
    this.name = 'OutboundError';
    this.code = code;
  }
}

export interface OutboundHttp {
  /** Resolves with any HTTP status (3xx included: redirects are not followed); rejects with OutboundError. */
  request(request: OutboundRequest): Promise<OutboundResponse>;
  /** Checks a URL at configuration time (scheme, host, resolved addresses) without sending anything. */
  assertAllowed(url: string): Promise<void>;
  /**
   * For a protocol that is not HTTP (SMTP): resolves a host name (or takes a literal address) and
   * checks every address as `request` does. The caller connects to one of the addresses returned,
   * never to the name again, so a DNS answer that changes after the check is not used.
   */
  resolveAllowed(host: string): Promise<string[]>;
}
