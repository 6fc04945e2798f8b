/**
 * The closed list of problem codes. The HTTP status of an error comes from
 * here, never from the place that throws it; docs/errors.md is checked
 * against this table by a test.
 */
export interface ErrorCodeSpec {
  status: number;
  title: string;
  description: string;
}

export const errorCodes = {
  bad_request: { status: 400, title: 'Bad request', description: 'The request could not be understood.' },
  malformed_json: {
    status: 400,
    title: 'Malformed JSON',
    description: 'The request body is not valid JSON.',
  },
  api_key_in_query: {
    status: 400,
    title: 'API key in query string',
    description:
      'Credentials must be sent in the `Authorization` or `X-API-Key` header. URLs end up in logs, so a key in the query string is refused (and should be rotated).',
  },
  invalid_cursor: {
    status: 400,
    title: 'Invalid cursor',
    description: 'The pagination cursor is malformed or belongs to another listing.',
  },
  missing_credentials: {
    status: 401,
    title: 'Missing credentials',
    description: 'No `Authorization: Bearer`, `Authorization: ApiKey` or `X-API-Key` header was sent.',
  },
  malformed_api_key: {
    status: 401,
    title: 'Malformed API key',
    description:
      'The credential does not have the shape of a Latchkey key (prefix, length, alphabet) or its checksum does not match. It was refused without a database lookup.',
  },
  invalid_api_key: {
    status: 401,
    title: 'Invalid API key',
    description: 'The key is well formed but no such key exists.',
  },
  api_key_revoked: {
    status: 401,
    title: 'API key revoked',
    description: 'The key has been revoked and can no longer be used.',
  },
  api_key_expired: { status: 401, title: 'API key expired', description: 'The key is past its expiry time.' },
  invalid_signature: {
    status: 401,
    title: 'Invalid signature',
    description:
      'A signed request (a secret-scanning report) carries no signature, an unknown key identifier, or a signature that does not verify. Nothing was changed.',
  },
  invalid_token: {
    status: 401,
    title: 'Invalid access token',
    description: 'The bearer token is not a valid, unexpired access token issued by this server.',
  },
  https_required: {
    status: 403,
    title: 'HTTPS required',
    description: 'The client reached a trusted proxy over plain HTTP. Latchkey only serves data over HTTPS.',
  },
  permission_denied: {
    status: 403,
    title: 'Permission denied',
    description: 'The credential lacks the permission this route requires; `detail` names it.',
  },
  permission_escalation: {
    status: 403,
    title: 'Permission escalation',
    description: 'A caller cannot grant permissions (to a key or a role) that it does not hold itself.',
  },
  ip_not_allowed: {
    status: 403,
    title: 'IP address not allowed',
    description: "The request's source address is outside the key's IP allowlist.",
  },
  ip_blocked: {
    status: 403,
    title: 'IP address blocked',
    description:
      'Requests from this address are refused for a while, before authentication, because a detection rule blocked it. `Retry-After` says when the block ends.',
  },
  protected_resource: {
    status: 403,
    title: 'Protected resource',
    description:
      'The object is protected (for example a built-in role or the owner key) and cannot be changed this way.',
  },
  not_found: {
    status: 404,
    title: 'Not found',
    description:
      'No such object exists in this organization (objects of other organizations are never revealed).',
  },
  route_not_found: {
    status: 404,
    title: 'Route not found',
    description: 'No route matches this method and path.',
  },
  method_not_allowed: {
    status: 405,
    title: 'Method not allowed',
    description: 'The route does not accept this method.',
  },
  conflict: {
    status: 409,
    title: 'Conflict',
    description: 'The change conflicts with existing data (for example a duplicate email or role key).',
  },
  payload_too_large: {
    status: 413,
    title: 'Payload too large',
    description: 'The request body exceeds the configured limit (`LATCHKEY_BODY_LIMIT`).',
  },
  unsupported_media_type: {
    status: 415,
    title: 'Unsupported media type',
    description: 'Request bodies must be `application/json`.',
  },
  validation_failed: {
    status: 422,
    title: 'Validation failed',
    description:
      'The request does not match the schema; `errors` lists every problem with its location. Unknown fields are refused.',
  },
  password_policy: {
    status: 422,
    title: 'Password refused by policy',
    description:
      "The password does not meet the organization's password policy (length, character classes); `detail` says which rule.",
  },
  mfa_code_invalid: {
    status: 422,
    title: 'Invalid one-time code',
    description:
      'The TOTP code does not match (check the device clock) or the enrollment has not been started.',
  },
  invalid_condition: {
    status: 422,
    title: 'Invalid rule condition',
    description:
      'The CEL condition of a rule does not compile or is not boolean; `errors` names the line and column.',
  },
  api_key_policy_violation: {
    status: 422,
    title: 'API key policy violation',
    description:
      "The key's expiry breaks the organization's key policy (an expiry is required, or the lifetime exceeds the maximum); `detail` says which.",
  },
  webhook_url_refused: {
    status: 422,
    title: 'Webhook URL refused',
    description:
      'The URL is not https, or its host resolves to a loopback, private, link-local or cloud-metadata address (SSRF protection). Hosts and ranges in `LATCHKEY_OUTBOUND_ALLOWLIST` are exempt.',
  },
  rate_limited: {
    status: 429,
    title: 'Rate limited',
    description: 'Too many requests; wait for the number of seconds in `Retry-After`.',
  },
  internal_error: {
    status: 500,
    title: 'Internal server error',
    description: 'An unexpected failure. It was logged with the `requestId`; no internals are returned.',
  },
  not_ready: {
    status: 503,
    title: 'Not ready',
    description: 'The server cannot reach its database.',
  },
} as const satisfies Record<string, ErrorCodeSpec>;

export type ErrorCode = keyof typeof errorCodes;

export function codeToStatus(code: ErrorCode): number {
  return errorCodes[code].status;
}
