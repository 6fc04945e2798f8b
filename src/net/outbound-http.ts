import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction, Socket } from 'node:net';
import { isIP } from 'node:net';
import { blockedReason, parseAllowlist } from './address-policy.ts';
import { OutboundError, type OutboundHttp, type OutboundRequest, type OutboundResponse } from './outbound.ts';

const BODY_LIMIT = 4096;
const DEFAULT_TIMEOUT_MS = 15_000;

type Resolver = (host: string) => Promise<LookupAddress[]>;

export interface OutboundHttpOptions {
  /** `LATCHKEY_OUTBOUND_ALLOWLIST`: host names and CIDRs that may be private and may use plain HTTP. */
  allowlist: readonly string[];
  /** Default timeout when a request does not name one (ms); 15 000. */
  timeoutMs?: number;
  /** Sent on every request unless the request sets its own. */
  userAgent?: string;
  /** DNS resolution; tests substitute a fake resolver to play a rebinding attack. */
  resolve?: Resolver;
}

const systemResolve: Resolver = (host) =>
  new Promise((resolve, reject) => {
    dnsLookup(host, { all: true, verbatim: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    );
  });

/** Who is to be reached: the name (or literal address), and whether the allowlist names it. */
interface Destination {
  host: string;
  hostAllowlisted: boolean;
}

interface Target extends Destination {
  url: URL;
}

/**
 * The SSRF-guarded OutboundHttp. The address check runs inside the socket's
 * own `lookup`, so the address that is checked is the address connected to:
 * a DNS answer that changes between a check and the connection (rebinding)
 * cannot slip through. The connected socket's peer address is checked once
 * more before any byte is written. Redirects are never followed.
 */
export function createOutboundHttp(options: OutboundHttpOptions): OutboundHttp & { close(): void } {
  const allow = parseAllowlist(options.allowlist);
  const resolve = options.resolve ?? systemResolve;
  const defaultTimeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  function addressAllowed(target: Destination, address: string): string | undefined {
    if (target.hostAllowlisted || allow.addressAllowed(address)) return undefined;
    const reason = blockedReason(address);
    return reason ? `${target.host} resolves to ${address}, a ${reason}` : undefined;
  }

  /** A host name or literal address (IPv6 with or without brackets), lower case, and whether it is allowlisted. */
  function destination(rawHost: string, missing: string): Destination {
    const host = rawHost
      .trim()
      .replace(/^\[(.*)\]$/, '$1')
      .toLowerCase();
    if (host === '') throw new OutboundError('invalid_url', missing);
    const hostAllowlisted = allow.hostAllowed(host) || (isIP(host) !== 0 && allow.addressAllowed(host));
    return { host, hostAllowlisted };
  }

  function parseTarget(raw: string): Target {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new OutboundError('invalid_url', 'not an absolute URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new OutboundError('invalid_url', `scheme ${url.protocol} is not http or https`);
    }
    if (url.username || url.password)
      throw new OutboundError('invalid_url', 'credentials in the URL are not allowed');
    const { host, hostAllowlisted } = destination(url.hostname, 'the URL has no host');
    if (url.protocol === 'http:' && !hostAllowlisted) {
      throw new OutboundError(
        'insecure_scheme',
        'plain http is only allowed for hosts in LATCHKEY_OUTBOUND_ALLOWLIST',
      );
    }
    return { url, host, hostAllowlisted };
  }

  async function resolveChecked(target: Destination): Promise<LookupAddress[]> {
    if (isIP(target.host)) {
      const family = isIP(target.host);
      const refused = addressAllowed(target, target.host);
      if (refused) throw new OutboundError('ssrf_blocked', refused);
      return [{ address: target.host, family }];
    }
    let addresses: LookupAddress[];
    try {
      addresses = await resolve(target.host);
    } catch (error) {
      throw new OutboundError(
        'connection_failed',
        `cannot resolve ${target.host}: ${(error as Error).message}`,
      );
    }
    if (addresses.length === 0) throw new OutboundError('connection_failed', `${target.host} has no address`);
    // Every answer must pass, not just one: a mixed answer is how rebinding attacks pick their moment.
    for (const a of addresses) {
      const refused = addressAllowed(target, a.address);
      if (refused) throw new OutboundError('ssrf_blocked', refused);
    }
    return addresses;
  }

  function guardedLookup(target: Target): LookupFunction {
    return (_hostname, lookupOptions, callback) => {
      resolveChecked(target).then(
        (addresses) => {
          if ((lookupOptions as { all?: boolean }).all) callback(null, addresses);
          else {
            const first = addresses[0] as LookupAddress;
            callback(null, first.address, first.family);
          }
        },
        (error: unknown) => callback(error as NodeJS.ErrnoException, '', 0),
      );
    };
  }

  const agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 64 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 64 }),
  };

  async function request(req: OutboundRequest): Promise<OutboundResponse> {
    const target = parseTarget(req.url);
    // Literal addresses never reach `lookup`: check them here.
    if (isIP(target.host)) await resolveChecked(target);
    const timeoutMs = req.timeoutMs ?? defaultTimeout;
    const started = performance.now();
    const body = req.body === undefined ? undefined : Buffer.from(req.body, 'utf8');
    const headers: Record<string, string> = {
      'user-agent': options.userAgent ?? 'Latchkey-Webhooks/1',
      ...(req.headers ?? {}),
    };
    if (body) headers['content-length'] = String(body.length);

    return new Promise<OutboundResponse>((resolvePromise, rejectPromise) => {
      let settled = false;
      const finish = (error: OutboundError | undefined, response?: OutboundResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) rejectPromise(error);
        else resolvePromise(response as OutboundResponse);
      };
      const isHttps = target.url.protocol === 'https:';
      const client = isHttps ? https : http;
      const outgoing = client.request(target.url, {
        method: req.method ?? 'POST',
        headers,
        agent: isHttps ? agents.https : agents.http,
        lookup: guardedLookup(target),
        ...(isHttps ? { servername: isIP(target.host) ? undefined : target.host } : {}),
      });
      const timer = setTimeout(() => {
        finish(new OutboundError('timeout', `no complete response within ${timeoutMs} ms`));
        outgoing.destroy();
      }, timeoutMs);

      const verifyPeer = (socket: Socket) => {
        const check = () => {
          const peer = socket.remoteAddress;
          const refused = peer === undefined ? 'no peer address' : addressAllowed(target, peer);
          if (refused) {
            finish(new OutboundError('ssrf_blocked', refused));
            outgoing.destroy();
          }
        };
        if (socket.remoteAddress !== undefined && !socket.connecting) check();
        else socket.once('connect', check);
      };
      outgoing.on('socket', verifyPeer);

      outgoing.on('error', (error: Error) => {
        if (error instanceof OutboundError) finish(error);
        else finish(new OutboundError('connection_failed', error.message));
      });
      outgoing.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () => {
          const responseHeaders: Record<string, string> = {};
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
          }
          finish(undefined, {
            status: res.statusCode ?? 0,
            headers: responseHeaders,
            body: Buffer.concat(chunks).subarray(0, BODY_LIMIT).toString('utf8'),
            latencyMs: Math.round(performance.now() - started),
          });
        };
        res.on('data', (chunk: Buffer) => {
          if (size >= BODY_LIMIT) return;
          chunks.push(chunk);
          size += chunk.length;
          if (size >= BODY_LIMIT) {
            // Enough: the rest of a large body is not read, and the socket is not reused.
            done();
            res.destroy();
          }
        });
        res.on('end', done);
        res.on('error', (error) => finish(new OutboundError('connection_failed', error.message)));
        res.on('close', () => {
          if (!res.complete) finish(new OutboundError('connection_failed', 'response ended early'));
        });
      });
      outgoing.end(body);
    });
  }

  return {
    request,
    async assertAllowed(url) {
      await resolveChecked(parseTarget(url));
    },
    async resolveAllowed(rawHost) {
      const addresses = await resolveChecked(destination(rawHost, 'no host'));
      return addresses.map((a) => a.address);
    },
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
