import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Received {
  /** The request path: give each endpoint its own to tell their requests apart. */
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: {
    id: string;
    type: string;
    timestamp: string;
    organizationId: string;
    data: Record<string, unknown>;
  };
  at: number;
}

export type Responder = (req: Received, res: ServerResponse) => void;

/** A real HTTP receiver on 127.0.0.1 with an ephemeral port, recording every request. */
export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  respond: Responder;
  /** Stops listening (connections refused) until `up()`. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
  /** Resolves when at least `n` requests have arrived, or rejects after `timeoutMs`. */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  /** Verifies every request with the standardwebhooks library and this secret; returns the payload ids. */
  verifyAll(secret: string): string[];
}

export const ok: Responder = (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
};

export async function startReceiver(respond: Responder = ok, port = 0): Promise<Receiver> {
  let server: Server;
  const received: Received[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const receiver: Receiver = {
    url: '',
    port,
    received,
    respond,
    async down() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
    async up() {
      await listen();
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
    waitFor(n, timeoutMs = 15_000) {
      if (received.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`receiver got ${received.length} of ${n} requests`)),
          timeoutMs,
        );
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    verifyAll(secret) {
      const wh = new Webhook(secret);
      return received.map((r) => {
        const payload = wh.verify(r.body, r.headers as Record<string, string>) as { id: string };
        return payload.id;
      });
    },
  };
  function listen(): Promise<void> {
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        body += c;
      });
      req.on('end', () => {
        const r: Received = {
          path: req.url ?? '',
          headers: req.headers,
          body,
          json: JSON.parse(body || '{}'),
          at: Date.now(),
        };
        received.push(r);
        for (const w of waiters.filter((w) => received.length >= w.n)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
        receiver.respond(r, res);
      });
    });
    return new Promise((resolve) =>
      server.listen(receiver.port, '127.0.0.1', () => {
        receiver.port = (server.address() as AddressInfo).port;
        receiver.url = `http://127.0.0.1:${receiver.port}/hook`;
        resolve();
      }),
    );
  }
  await listen();
  return receiver;
}
