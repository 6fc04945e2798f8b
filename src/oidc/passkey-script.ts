/**
 * The only script of the hosted login, served from the same origin: asks the
 * browser for a passkey assertion and posts it with the second-factor form.
 */
export const PASSKEY_SCRIPT = `(() => {
  const button = document.getElementById('passkey');
  if (!button) return;
  if (!window.PublicKeyCredential) { button.hidden = true; return; }
  const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  const unb64 = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
  button.addEventListener('click', async () => {
    const form = document.getElementById('passkey-form');
    const res = await fetch(form.dataset.options, { method: 'POST', credentials: 'same-origin', body: new URLSearchParams({ csrf: form.elements.csrf.value }) });
    if (!res.ok) return;
    const o = await res.json();
    const cred = await navigator.credentials.get({ publicKey: { ...o, challenge: unb64(o.challenge), allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: unb64(c.id) })) } });
    const r = cred.response;
    form.elements.assertion.value = JSON.stringify({ id: cred.id, rawId: b64(cred.rawId), type: cred.type, clientExtensionResults: cred.getClientExtensionResults(),
      response: { clientDataJSON: b64(r.clientDataJSON), authenticatorData: b64(r.authenticatorData), signature: b64(r.signature), userHandle: r.userHandle ? b64(r.userHandle) : undefined } });
    form.submit();
  });
})();
`;
