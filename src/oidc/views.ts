/**
 * Server-rendered pages of the hosted login: no external assets (no fonts,
 * scripts or images from elsewhere), labelled fields, errors announced to
 * screen readers (role="alert"), the first field focused, every control
 * reachable with the keyboard.
 */
export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const STYLE = `
*{box-sizing:border-box}body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;background:#f4f5f7;color:#1b1f24;margin:0;padding:2rem 1rem}
main{max-width:24rem;margin:0 auto;background:#fff;border-radius:8px;padding:1.5rem 1.75rem;box-shadow:0 1px 3px rgba(0,0,0,.15)}
h1{font-size:1.4rem;margin:0 0 1rem}label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input[type=email],input[type=password],input[type=text]{width:100%;font-size:1rem;padding:.6rem;border:1px solid #8a929c;border-radius:4px}
input:focus,button:focus{outline:3px solid #1a5fd0;outline-offset:2px}
button{font-size:1rem;padding:.6rem 1rem;border-radius:4px;border:1px solid #1a5fd0;background:#1a5fd0;color:#fff;cursor:pointer;margin-top:1rem;width:100%}
button.secondary{background:#fff;color:#1a5fd0}.error{background:#fdecea;border:1px solid #b3261e;color:#8c1d18;padding:.6rem;border-radius:4px}
.hint{color:#4a525c;font-size:.9rem}ul{padding-left:1.2rem}code{font-size:1.3rem;letter-spacing:.1em}
`;

export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>`;
}

export function errorBlock(message: string | undefined): string {
  return message ? `<p class="error" role="alert" id="form-error">${escapeHtml(message)}</p>` : '';
}

export function hidden(name: string, value: string): string {
  return `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`;
}
