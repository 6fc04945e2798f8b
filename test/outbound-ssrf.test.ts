import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertMessage, ChannelSettings } from '../src/domain/alerts/channel-types.ts';
import { sendToChannel } from '../src/domain/alerts/senders.ts';
import { blockedReason } from '../src/net/address-policy.ts';
import { OutboundError } from '../src/net/outbound.ts';
import { createOutboundHttp } from '../src/net/outbound-http.ts';
import { startSmtpReceiver } from './helpers/receivers.ts';

describe('address policy', () => {
  it.each([
    '127.0.0.1',
    '127.1.2.3',
    '::1',
    '::ffff:127.0.0.1',
    '0.0.0.0',
    '::',
    '10.0.0.1',
    '172.16.5.4',
    '192.168.1.1',
    '169.254.169.254',
    '169.254.170.2',
    'fd00:ec2::254',
    '100.64.0.1',
    '100.100.100.200',
    '192.0.0.192',
    'fe80::1',
    'fc00::1',
    '224.0.0.1',
    'ff02::1',
    '255.255.255.255',
    '64:ff9b::7f00:1',
    '2002:7f00:1::',
    '198.18.0.1',
    '240.0.0.1',
  ])('refuses %s', (address) => {
    expect(blockedReason(address)).toBeDefined();
  });

  it.each(['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('allows public %s', (address) => {
    expect(blockedReason(address)).toBeUndefined();
  });
});

async function expectRefusal(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OutboundError);
  expect((error as OutboundError).code).toBe(code);
}

describe('createOutboundHttp against real loopback receivers', () => {
  let server: Server;
  let base: string;
  const hits: string[] = [];
  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      hits.push(req.url ?? '');
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        if (req.url === '/redirect') {
          res.writeHead(302, { location: `${base}/target` }).end('moved');
        } else if (req.url === '/slow') {
          setTimeout(() => res.writeHead(200).end('late'), 2000);
        } else if (req.url === '/big') {
          res.writeHead(200).end('x'.repeat(100_000));
        } else {
          res.writeHead(201, { 'x-echo': req.headers['x-test'] ?? '' }).end(`got ${req.method} ${body}`);
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('reaches an allowlisted loopback address over plain http and returns status, headers and body', async () => {
    const client = createOutboundHttp({ allowlist: ['127.0.0.1'] });
    const res = await client.request({ url: `${base}/hook`, body: '{"a":1}', headers: { 'x-test': 'yes' } });
    expect(res.status).toBe(201);
    expect(res.headers['x-echo']).toBe('yes');
    expect(res.body).toBe('got POST {"a":1}');
    expect(res.latencyMs).toBeGreaterThanOrEqual(0);
    client.close();
  });

  it('reaches a receiver allowlisted by CIDR', async () => {
    const client = createOutboundHttp({ allowlist: ['127.0.0.0/8'] });
    expect((await client.request({ url: `${base}/hook` })).status).toBe(201);
    client.close();
  });

  it('refuses 127.0.0.1 without the allowlist, before any connection', async () => {
    const client = createOutboundHttp({ allowlist: [] });
    const before = hits.length;
    await expectRefusal(client.request({ url: `${base}/hook` }), 'insecure_scheme');
    await expectRefusal(client.request({ url: base.replace('http:', 'https:') }), 'ssrf_blocked');
    await expectRefusal(client.assertAllowed(base.replace('http:', 'https:')), 'ssrf_blocked');
    expect(hits.length).toBe(before);
    client.close();
  });

  it('refuses a host name that resolves to loopback (localhost)', async () => {
    const client = createOutboundHttp({ allowlist: [] });
    await expectRefusal(client.assertAllowed('https://localhost/x'), 'ssrf_blocked');
    client.close();
  });

  it('refuses the metadata service 169.254.169.254 and fd00:ec2::254 without connecting', async () => {
    const client = createOutboundHttp({ allowlist: [] });
    await expectRefusal(client.request({ url: 'https://169.254.169.254/latest/meta-data/' }), 'ssrf_blocked');
    await expectRefusal(client.request({ url: 'https://[fd00:ec2::254]/' }), 'ssrf_blocked');
    await expectRefusal(client.assertAllowed('https://169.254.169.254/'), 'ssrf_blocked');
    client.close();
  });

  it('checks the address actually connected to: a DNS answer that rebinds to loopback after the check is refused', async () => {
    let answers = 0;
    const client = createOutboundHttp({
      allowlist: [],
      resolve: async () =>
        answers++ === 0 ? [{ address: '8.8.8.8', family: 4 }] : [{ address: '127.0.0.1', family: 4 }],
    });
    const port = (server.address() as AddressInfo).port;
    await client.assertAllowed(`https://rebind.example:${port}/`);
    const before = hits.length;
    await expectRefusal(client.request({ url: `https://rebind.example:${port}/hook` }), 'ssrf_blocked');
    expect(hits.length).toBe(before);
    client.close();
  });

  it('refuses an answer that mixes public and private addresses', async () => {
    const client = createOutboundHttp({
      allowlist: [],
      resolve: async () => [
        { address: '8.8.8.8', family: 4 },
        { address: '10.0.0.1', family: 4 },
      ],
    });
    await expectRefusal(client.assertAllowed('https://mixed.example/'), 'ssrf_blocked');
    client.close();
  });

  it('lets a host name on the allowlist through, over http', async () => {
    const client = createOutboundHttp({
      allowlist: ['receiver.test'],
      resolve: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    const port = (server.address() as AddressInfo).port;
    expect((await client.request({ url: `http://receiver.test:${port}/hook` })).status).toBe(201);
    client.close();
  });

  it('does not follow redirects', async () => {
    const client = createOutboundHttp({ allowlist: ['127.0.0.1'] });
    const before = hits.filter((h) => h === '/target').length;
    const res = await client.request({ url: `${base}/redirect` });
    expect(res.status).toBe(302);
    expect(hits.filter((h) => h === '/target').length).toBe(before);
    client.close();
  });

  it('times out a slow receiver', async () => {
    const client = createOutboundHttp({ allowlist: ['127.0.0.1'] });
    await expectRefusal(client.request({ url: `${base}/slow`, timeoutMs: 200 }), 'timeout');
    client.close();
  });

  it('keeps only the first 4 KiB of a response body', async () => {
    const client = createOutboundHttp({ allowlist: ['127.0.0.1'] });
    const res = await client.request({ url: `${base}/big`, method: 'GET' });
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(4096);
    client.close();
  });

  it('refuses malformed URLs, other schemes and embedded credentials', async () => {
    const client = createOutboundHttp({ allowlist: ['127.0.0.1'] });
    await expectRefusal(client.assertAllowed('not a url'), 'invalid_url');
    await expectRefusal(client.assertAllowed('ftp://example.com/'), 'invalid_url');
    await expectRefusal(client.assertAllowed('https://user:pw@example.com/'), 'invalid_url');
    client.close();
  });

  it('reports a refused connection as connection_failed', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const client = createOutboundHttp({ allowlist: ['127.0.0.1'] });
    await expectRefusal(client.request({ url: `http://127.0.0.1:${port}/` }), 'connection_failed');
    client.close();
  });
});

describe('SMTP through the outbound guard (email alert channel)', () => {
  let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
  beforeAll(async () => {
    smtp = await startSmtpReceiver();
  });
  afterAll(async () => {
    await smtp.close();
  });

  const email = (host: string): ChannelSettings => ({
    type: 'email',
    settings: { host, port: smtp.port, from: 'latchkey@example.com', to: ['oncall@example.com'] },
    secrets: {},
  });
  const message: AlertMessage = {
    subject: 'Latchkey test alert',
    text: 'test alert',
    severity: 'info',
    dedupKey: 'latchkey:test',
    details: {},
  };

  it('resolveAllowed refuses private, loopback and metadata hosts, literal or resolved, and mixed answers', async () => {
    const client = createOutboundHttp({
      allowlist: [],
      resolve: async (host) =>
        host === 'mixed.example'
          ? [
              { address: '8.8.8.8', family: 4 },
              { address: '192.168.0.10', family: 4 },
            ]
          : host === 'public.example'
            ? [{ address: '8.8.8.8', family: 4 }]
            : [{ address: '127.0.0.1', family: 4 }],
    });
    for (const host of ['127.0.0.1', '[::1]', '169.254.169.254', '10.1.2.3', 'localhost', 'mixed.example']) {
      await expectRefusal(client.resolveAllowed(host), 'ssrf_blocked');
    }
    expect(await client.resolveAllowed('public.example')).toEqual(['8.8.8.8']);
    expect(await client.resolveAllowed(' PUBLIC.example ')).toEqual(['8.8.8.8']);
    client.close();
  });

  it('resolveAllowed lets allowlisted hosts and ranges through', async () => {
    const client = createOutboundHttp({
      allowlist: ['smtp.internal', '127.0.0.0/8'],
      resolve: async () => [{ address: '10.0.0.25', family: 4 }],
    });
    expect(await client.resolveAllowed('smtp.internal')).toEqual(['10.0.0.25']);
    expect(await client.resolveAllowed('127.0.0.1')).toEqual(['127.0.0.1']);
    client.close();
  });

  it('sends no byte to a host the guard refuses at send time, and connects to the checked address otherwise', async () => {
    const guarded = createOutboundHttp({ allowlist: [] });
    const before = smtp.mails.length;
    await expectRefusal(
      sendToChannel(email('127.0.0.1'), message, { http: guarded, now: () => new Date() }),
      'ssrf_blocked',
    );
    expect(smtp.mails.length).toBe(before);
    guarded.close();

    // A name that resolves (here, to the allowlisted loopback receiver): the mail goes to the checked address.
    const allowed = createOutboundHttp({
      allowlist: ['127.0.0.1'],
      resolve: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    const result = await sendToChannel(email('mail.example'), message, {
      http: allowed,
      now: () => new Date(),
    });
    expect(result.ok).toBe(true);
    expect(smtp.mails.length).toBe(before + 1);
    expect(smtp.mails[before]?.to).toEqual(['oncall@example.com']);
    allowed.close();
  });
});
