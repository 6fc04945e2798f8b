/**
 * The benchmark's receiver, in its own process so verifying signatures does
 * not share a core's event loop with the dispatcher: an HTTP server on
 * 127.0.0.1 that verifies every delivery with the standardwebhooks library
 * and reports the event and the wall time it was verified at to its parent.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

let verifier: Webhook | undefined;
let pending: { key: string; at: number }[] = [];
let failures = 0;

process.on('message', (m: { secret?: string }) => {
  if (m.secret) verifier = new Webhook(m.secret);
});

const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => {
    body += c;
  });
  req.on('end', () => {
    try {
      const payload = verifier?.verify(body, req.headers as Record<string, string>) as {
        data: { email?: string };
      };
      pending.push({ key: String(payload.data.email), at: performance.timeOrigin + performance.now() });
      res.writeHead(204).end();
    } catch {
      failures++;
      res.writeHead(400).end('bad signature');
    }
  });
});

setInterval(() => {
  if (pending.length === 0 && failures === 0) return;
  process.send?.({ received: pending, failures });
  pending = [];
  failures = 0;
}, 20).unref();

server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
