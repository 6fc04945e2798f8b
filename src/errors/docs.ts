import { type ErrorCodeSpec, errorCodes } from './codes.ts';

/** Renders docs/errors.md from the registry; a test keeps the committed file equal to this. */
export function renderErrorsDoc(): string {
  const rows = (Object.entries(errorCodes) as [string, ErrorCodeSpec][]).map(
    ([code, spec]) => `| \`${code}\` | ${spec.status} | ${spec.title} | ${spec.description} |`,
  );
  return [
    '# Errors',
    '',
    '<!-- Generated from src/errors/codes.ts by `npm run docs`. Do not edit by hand. -->',
    '',
    'Every error is an [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) `application/problem+json` body:',
    '',
    '```json',
    '{',
    '  "type": "https://latchkey.dev/errors/permission_denied",',
    '  "title": "Permission denied",',
    '  "status": 403,',
    '  "detail": "This route requires the permission users:write",',
    '  "code": "permission_denied",',
    '  "requestId": "req_01jd3k8v6m2x9q4r7t5w"',
    '}',
    '```',
    '',
    'Validation failures (422) add `errors: [{location, message}]` listing every bad field. 401 answers carry',
    'a `WWW-Authenticate` header; 429 answers carry `Retry-After`. OAuth endpoints answer with RFC 6749',
    'bodies (`error`, `error_description`) instead.',
    '',
    '| Code | Status | Title | Meaning |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
