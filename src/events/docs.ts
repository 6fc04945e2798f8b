import { EVENT_TYPES } from './catalogue.ts';
import { webhookPayloadSchema } from './payload.ts';

const HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((name) => ({
  name,
  in: 'header',
  required: true,
  schema: { type: 'string' },
  description:
    name === 'webhook-id'
      ? 'The event id; the same on every attempt, so receivers can drop duplicates.'
      : name === 'webhook-timestamp'
        ? 'Unix seconds when this attempt was signed.'
        : 'Space-separated `v1,<base64 HMAC-SHA256>` signatures (two during a secret rotation).',
}));

/** The OpenAPI 3.1 `webhooks` section: one entry per catalogue type. */
export function openApiWebhooks(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of EVENT_TYPES) {
    out[spec.type] = {
      post: {
        summary: spec.type,
        description: `${spec.description} Signed with Standard Webhooks; see docs/webhooks.md.`,
        tags: [`Events: ${spec.group}`],
        parameters: HEADERS,
        requestBody: {
          required: true,
          content: { 'application/json': { schema: webhookPayloadSchema(spec.type, spec.data) } },
        },
        responses: {
          '2XX': { description: 'Delivered. Any other status (or no answer within 15 s) is retried.' },
          '410': { description: 'Gone: the endpoint is disabled and no more events are sent to it.' },
        },
      },
    };
  }
  return JSON.parse(JSON.stringify(out)) as Record<string, unknown>;
}

function fields(schema: unknown): string {
  const props = (
    schema as { properties?: Record<string, { type?: unknown; description?: string; anyOf?: unknown[] }> }
  ).properties;
  if (!props || Object.keys(props).length === 0) return '—';
  return Object.entries(props)
    .map(([name, p]) => {
      const type = p.anyOf
        ? (p.anyOf as { type?: string }[]).map((x) => x.type ?? 'object').join(' \\| ')
        : Array.isArray(p.type)
          ? p.type.join(' \\| ')
          : (p.type ?? 'any');
      return `\`${name}\` (${type})`;
    })
    .join(', ');
}

/** Renders docs/events.md from the catalogue; a test keeps the committed file equal to this. */
export function renderEventsDoc(): string {
  const lines = [
    '# Events',
    '',
    '<!-- Generated from src/events/catalogue.ts by `npm run docs`. Do not edit by hand. -->',
    '',
    'Every change and every security decision in Latchkey is an event, written in the same transaction as',
    'the change. Events are listed in the audit log, pulled from `GET /v1/organizations/{org}/events`,',
    'and pushed to webhook endpoints (see [webhooks.md](webhooks.md)). `GET /v1/event-types` serves this',
    'catalogue with the JSON schema of each `data`.',
    '',
    'A webhook body is:',
    '',
    '```json',
    '{',
    '  "id": "evt_01jd3k8v6m2x9q4r7t5w8y0z1a",',
    '  "type": "api_key.revoked",',
    '  "timestamp": "2026-01-15T10:00:00.000Z",',
    '  "organizationId": "org_01jd3k8v6m2x9q4r7t5w8y0z1b",',
    '  "actor": { "type": "api_key", "id": "key_01jd…", "display": "CI deploy key" },',
    '  "target": { "type": "api_key", "id": "key_01jd…" },',
    '  "outcome": "success",',
    '  "data": { "keyId": "key_01jd…", "name": "Old key", "hint": "ak_live_AbCd…wXyZ", "revokedBy": "key_01jd…", "reason": "rotated" }',
    '}',
    '```',
    '',
    'Subscription filters are `*`, an exact type, or a prefix wildcard such as `api_key.*` or `user.*`',
    '(which also matches `user.login.failed`). Fields listed below are the ones a consumer can rely on;',
    'events owned by other areas may carry more.',
    '',
  ];
  let group = '';
  for (const spec of EVENT_TYPES) {
    if (spec.group !== group) {
      group = spec.group;
      lines.push(`## ${group}`, '', '| Type | Meaning | `data` fields |', '|---|---|---|');
    }
    lines.push(`| \`${spec.type}\` | ${spec.description.replace(/\|/g, '\\|')} | ${fields(spec.data)} |`);
    const next = EVENT_TYPES[EVENT_TYPES.indexOf(spec) + 1];
    if (!next || next.group !== group) lines.push('');
  }
  return `${lines.join('\n')}`;
}
