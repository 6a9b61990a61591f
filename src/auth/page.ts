/**
 * The consent page: server-rendered HTML, no external assets, every
 * interpolated value escaped, a strict CSP (inline style by nonce only, no
 * script at all, no framing).
 */
import { randomBytes } from 'node:crypto';
import type { Response } from 'express';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`=\/]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface ConsentView {
  clientName: string;
  clientId: string;
  redirectUri: string;
  pendingId: string;
  csrf: string;
  resource: string;
  error?: string;
}

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d2430;margin:0;padding:2rem 1rem}
main{max-width:32rem;margin:0 auto;background:#fff;border-radius:10px;padding:1.5rem 1.75rem;box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.25rem;margin:0 0 1rem}
dl{margin:0 0 1rem;display:grid;grid-template-columns:max-content 1fr;gap:.35rem .8rem}
dt{font-weight:600;color:#4a5568}dd{margin:0;word-break:break-all}
code{background:#eef0f3;border-radius:4px;padding:0 .25rem}
fieldset{border:1px solid #d5d9e0;border-radius:8px;margin:0 0 1rem;padding:.6rem .9rem}
legend{font-weight:600;padding:0 .3rem}
label.opt{display:block;margin:.35rem 0}
label.pw{display:block;font-weight:600;margin:.5rem 0 .25rem}
input[type=password]{width:100%;box-sizing:border-box;padding:.55rem;border:1px solid #b8bfca;border-radius:6px;font-size:1rem}
.err{background:#fde8e8;border:1px solid #f5b5b5;color:#8a1c1c;border-radius:6px;padding:.6rem .8rem;margin:0 0 1rem}
.note{font-size:.85rem;color:#5a6472}
.buttons{display:flex;gap:.6rem;margin-top:1rem}
button{font-size:1rem;padding:.55rem 1.1rem;border-radius:6px;border:1px solid #b8bfca;background:#fff;cursor:pointer}
button.primary{background:#1f6feb;border-color:#1f6feb;color:#fff}
`;

function page(title: string, body: string, nonce: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title>
<style nonce="${nonce}">${STYLE}</style></head>
<body><main>${body}</main></body></html>
`;
}

export function renderConsent(v: ConsentView, nonce: string): string {
  let host = v.redirectUri;
  try {
    host = new URL(v.redirectUri).host;
  } catch {
    /* shown as is */
  }
  const body = `
<h1>Allow access to Loop Ops?</h1>
${v.error ? `<p class="err" role="alert">${escapeHtml(v.error)}</p>` : ''}
<dl>
<dt>Application</dt><dd>${escapeHtml(v.clientName)} <span class="note">(name given by the application, not verified)</span></dd>
<dt>Client ID</dt><dd><code>${escapeHtml(v.clientId)}</code></dd>
<dt>Returns to</dt><dd><strong>${escapeHtml(host)}</strong><br><code>${escapeHtml(v.redirectUri)}</code></dd>
<dt>Resource</dt><dd><code>${escapeHtml(v.resource)}</code></dd>
</dl>
<form method="post" action="/oauth/consent" autocomplete="off">
<input type="hidden" name="pending" value="${escapeHtml(v.pendingId)}">
<input type="hidden" name="csrf" value="${escapeHtml(v.csrf)}">
<fieldset><legend>Access</legend>
<p class="note">Read-only is selected whatever the application asks for: choose Full only if you mean it.</p>
<label class="opt"><input type="radio" name="access" value="read" checked> Read-only: status, logs, health (<code>ops:read</code>)</label>
<label class="opt"><input type="radio" name="access" value="write"> Full: also restart, deploy, rollback, stop (<code>ops:write</code>)</label>
</fieldset>
<label class="pw" for="passphrase">Admin passphrase</label>
<input type="password" id="passphrase" name="passphrase" required autofocus>
<p class="note">Only approve if you started this connection yourself. You can revoke it later: <code>loop-ops-mcp oauth-clients revoke</code>.</p>
<div class="buttons"><button class="primary" type="submit" name="action" value="approve">Allow</button>
<button type="submit" name="action" value="deny" formnovalidate>Deny</button></div>
</form>`;
  return page('Allow access to Loop Ops?', body, nonce);
}

export function renderMessage(title: string, message: string, nonce: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`, nonce);
}

/**
 * Sends an HTML page with its security headers. `formTarget` is the redirect
 * URI's origin: browsers apply CSP form-action to the redirect that follows
 * the form POST, so it must be allowed besides 'self'.
 */
export function sendHtml(res: Response, status: number, render: (nonce: string) => string, formTarget?: string): void {
  const nonce = randomBytes(16).toString('base64');
  const formAction = ["'self'", ...(formTarget ? [formTarget] : [])].join(' ');
  res
    .status(status)
    .set({
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': `default-src 'none'; style-src 'nonce-${nonce}'; img-src 'none'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
      'X-Frame-Options': 'DENY',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store',
      Pragma: 'no-cache',
    })
    .send(render(nonce));
}
