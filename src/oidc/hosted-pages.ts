import type { OAuthClient } from '../store/repos/oauth-clients.ts';
import { errorBlock, escapeHtml, hidden, page } from './views.ts';

/** The forms of the hosted login. Each posts to `{base}/…` with the CSRF token. */
export interface FormContext {
  base: string;
  csrf: string;
}

export function loginPage(f: FormContext, o: { clientName: string; email?: string; error?: string }): string {
  return page(
    'Sign in',
    `<p>to continue to <strong>${escapeHtml(o.clientName)}</strong></p>
${errorBlock(o.error)}
<form method="post" action="${escapeHtml(f.base)}/login" novalidate>
${hidden('csrf', f.csrf)}
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required autofocus value="${escapeHtml(o.email ?? '')}"${o.error ? ' aria-describedby="form-error" aria-invalid="true"' : ''}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<form method="post" action="${escapeHtml(f.base)}/abort">${hidden('csrf', f.csrf)}<button class="secondary" type="submit">Cancel</button></form>`,
  );
}

export function secondFactorPage(f: FormContext, o: { error?: string; passkey?: boolean }): string {
  const passkey = o.passkey
    ? `<form id="passkey-form" method="post" action="${escapeHtml(f.base)}/webauthn" data-options="${escapeHtml(f.base)}/webauthn/options">
${hidden('csrf', f.csrf)}<input type="hidden" name="assertion" value="">
<button class="secondary" type="button" id="passkey">Use a passkey</button>
</form>
<script src="${escapeHtml(f.base)}/webauthn.js" defer></script>`
    : '';
  return page(
    'Two-step verification',
    `<p>Enter the 6-digit code from your authenticator app, or one of your recovery codes.</p>
${errorBlock(o.error)}
<form method="post" action="${escapeHtml(f.base)}/mfa" novalidate>
${hidden('csrf', f.csrf)}
<label for="code">Code</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required autofocus maxlength="20"${o.error ? ' aria-describedby="form-error" aria-invalid="true"' : ''}>
<button type="submit">Verify</button>
</form>${passkey}`,
  );
}

export function enrollPage(f: FormContext, o: { secret: string; qrCodeSvg: string; error?: string }): string {
  const qr = `data:image/svg+xml;base64,${Buffer.from(o.qrCodeSvg).toString('base64')}`;
  return page(
    'Set up two-step verification',
    `<p>Your organization requires a second factor. Scan this code with an authenticator app, then enter the code it shows.</p>
<p><img src="${qr}" alt="QR code for your authenticator app" width="200" height="200"></p>
<p class="hint">Cannot scan? Enter this key: <code id="totp-secret">${escapeHtml(o.secret)}</code></p>
${errorBlock(o.error)}
<form method="post" action="${escapeHtml(f.base)}/enroll" novalidate>
${hidden('csrf', f.csrf)}
<label for="code">Code</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required autofocus maxlength="6">
<button type="submit">Confirm</button>
</form>`,
  );
}

export function recoveryCodesPage(f: FormContext, codes: string[]): string {
  return page(
    'Save your recovery codes',
    `<p>Each code signs you in once if you lose your device. They are shown only now.</p>
<ul id="recovery-codes">${codes.map((c) => `<li><code>${escapeHtml(c)}</code></li>`).join('')}</ul>
<form method="post" action="${escapeHtml(f.base)}/continue">${hidden('csrf', f.csrf)}<button type="submit" autofocus>I have saved them, continue</button></form>`,
  );
}

export function consentPage(
  f: FormContext,
  o: { client: Pick<OAuthClient, 'name'>; scopes: string[]; denied: string[] },
): string {
  const list = o.scopes.map((s) => `<li>${escapeHtml(s)}</li>`).join('');
  const denied = o.denied.length
    ? `<p class="hint">Not granted (your roles do not include them): ${o.denied.map(escapeHtml).join(', ')}</p>`
    : '';
  return page(
    'Allow access?',
    `<p><strong>${escapeHtml(o.client.name)}</strong> asks to:</p>
<ul>${list || '<li>confirm who you are</li>'}</ul>${denied}
<form method="post" action="${escapeHtml(f.base)}/consent">
${hidden('csrf', f.csrf)}
<button type="submit" name="decision" value="allow" autofocus>Allow</button>
<button class="secondary" type="submit" name="decision" value="deny">Deny</button>
</form>`,
  );
}
