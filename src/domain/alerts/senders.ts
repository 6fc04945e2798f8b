import { createHmac, randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import nodemailer from 'nodemailer';
import type { OutboundHttp } from '../../net/outbound.ts';
import type { AlertMessage, ChannelSettings } from './channel-types.ts';

export interface SendResult {
  ok: boolean;
  status?: number | undefined;
  error?: string | undefined;
}

const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : []);

function httpResult(status: number, body: string): SendResult {
  return status >= 200 && status < 300
    ? { ok: true, status }
    : { ok: false, status, error: `HTTP ${status}: ${body.slice(0, 200)}` };
}

/** Standard Webhooks signature (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`), whsec_ secrets. */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret);
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/**
 * Delivers one alert to one channel. Every HTTP channel goes through the
 * injected OutboundHttp (SSRF guard, timeout, no redirects); email speaks SMTP
 * to an address the same guard has checked.
 */
export async function sendToChannel(
  channel: ChannelSettings,
  message: AlertMessage,
  deps: { http: OutboundHttp; now: () => Date },
): Promise<SendResult> {
  const s = channel.settings;
  const secrets = channel.secrets;
  switch (channel.type) {
    case 'email': {
      // SMTP is not HTTP, but the same address rules apply: the host is resolved and every address
      // checked by the outbound guard, and nodemailer connects to the checked address (never to the
      // name again), verifying TLS against the name.
      const host = str(s.host);
      const [address] = await deps.http.resolveAllowed(host);
      const transport = nodemailer.createTransport({
        host: address,
        ...(isIP(host) === 0 ? { servername: host } : {}),
        port: Number(s.port),
        secure: s.secure === true,
        ...(secrets.password ? { auth: { user: str(s.username), pass: secrets.password } } : {}),
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        socketTimeout: 15_000,
      });
      try {
        await transport.sendMail({
          from: str(s.from),
          to: list(s.to).join(', '),
          subject: message.subject,
          text: message.text,
        });
        return { ok: true };
      } finally {
        transport.close();
      }
    }
    case 'sms': {
      const base = str(s.baseUrl, 'https://api.twilio.com').replace(/\/$/, '');
      const sid = str(s.accountSid);
      const auth = Buffer.from(`${sid}:${secrets.authToken ?? ''}`).toString('base64');
      const body = message.text.length > 1500 ? `${message.text.slice(0, 1497)}...` : message.text;
      for (const to of list(s.to)) {
        const res = await deps.http.request({
          url: `${base}/2010-04-01/Accounts/${encodeURIComponent(sid)}/Messages.json`,
          method: 'POST',
          headers: { authorization: `Basic ${auth}`, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ To: to, From: str(s.from), Body: body }).toString(),
        });
        const r = httpResult(res.status, res.body);
        if (!r.ok) return r;
      }
      return { ok: true, status: 201 };
    }
    case 'slack': {
      const res = await deps.http.request({
        url: secrets.url ?? '',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: `*${message.subject}*\n${message.text}` }),
      });
      return httpResult(res.status, res.body);
    }
    case 'pagerduty': {
      const res = await deps.http.request({
        url: str(s.url, 'https://events.pagerduty.com/v2/enqueue'),
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          routing_key: secrets.routingKey,
          event_action: 'trigger',
          dedup_key: message.dedupKey,
          payload: {
            summary: message.subject.slice(0, 1024),
            source: 'latchkey',
            severity: str(s.severity, message.severity),
            timestamp: deps.now().toISOString(),
            custom_details: { text: message.text, ...message.details },
          },
        }),
      });
      return httpResult(res.status, res.body);
    }
    case 'webhook':
      return sendSignedWebhook(
        str(s.url),
        secrets.secret ?? '',
        'alert',
        {
          subject: message.subject,
          text: message.text,
          severity: message.severity,
          dedupKey: message.dedupKey,
          ...message.details,
        },
        deps,
      );
  }
}

/** POSTs `{type, timestamp, data}` signed the Standard Webhooks way (`webhook-id`, `-timestamp`, `-signature`). */
export async function sendSignedWebhook(
  url: string,
  secret: string,
  type: string,
  data: Record<string, unknown>,
  deps: { http: OutboundHttp; now: () => Date },
): Promise<SendResult> {
  const id = `msg_${randomUUID()}`;
  const timestamp = Math.floor(deps.now().getTime() / 1000);
  const body = JSON.stringify({ type, timestamp: deps.now().toISOString(), data });
  const res = await deps.http.request({
    url,
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signWebhook(secret, id, timestamp, body),
    },
    body,
  });
  return httpResult(res.status, res.body);
}
