/**
 * The HTML documents of the status page: the sign-in page (what `GET /` answers without a
 * token: no data at all), the dashboard fragment the script loads once signed in, and the
 * whole page rendered on the server for a request that carries a token (readable without
 * JavaScript, e.g. `curl -H 'Authorization: Bearer …' /status`).
 */
import { esc } from './status-format.js';
import type { StatusSnapshot } from './status-schema.js';
import { renderSections } from './status-sections.js';

/** Headers every status document carries: nothing from elsewhere, no inline script. */
export const PAGE_HEADERS: Record<string, string> = {
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
};

function document(title: string, version: string, main: string, view: 'sign-in' | 'dashboard'): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${esc(title)}</title>
<link rel="stylesheet" href="/status/assets/status.css">
<script src="/status/assets/status.js" defer></script>
</head>
<body>
<a class="skip" href="#app">Skip to content</a>
<header class="top"><h1>heat-gateway <small>status · ${esc(version)}</small></h1></header>
<main id="app" data-view="${view}" tabindex="-1">
${main}
</main>
</body>
</html>
`;
}

/** `GET /` without a token: asks for one; shows nothing else. */
export function renderSignInPage(version: string): string {
  // The input has no name and the form posts nowhere (CSP form-action 'none'): without the
  // script, a typed token can never end up in a URL.
  const main = `<section class="signin" aria-labelledby="sign-in-h">
<h2 id="sign-in-h">Sign in</h2>
<p>Enter an <b>admin</b> or <b>client</b> token of this gateway. It is kept in this browser tab only (sessionStorage) and sent as an <code>Authorization</code> header.</p>
<form id="sign-in" method="post">
<label for="token">Token</label>
<input id="token" type="password" autocomplete="off" spellcheck="false" required>
<button type="submit">Sign in</button>
<p id="sign-in-error" class="error" role="alert"></p>
</form>
<noscript><p>This page needs JavaScript to send your token as a header. Without it, the page is rendered in full on the server for a request that carries the token:
<code>curl -H 'Authorization: Bearer &lt;token&gt;' &lt;this URL&gt;</code></p></noscript>
</section>`;
  return document('heat-gateway status: sign in', version, main, 'sign-in');
}

/** The signed-in dashboard: a bar with who is signed in and the live state, then the sections. */
export function renderDashboard(snapshot: StatusSnapshot, nowMs: number): string {
  const sections = renderSections(snapshot, nowMs)
    .map((s) => s.html)
    .join('\n');
  const role = snapshot.viewer.canControl ? 'admin: can switch and redeliver' : `${snapshot.viewer.role}: read only`;
  return `<div class="bar-row">
<h2 id="dashboard-h" class="sr-title" tabindex="-1">Status</h2>
<p class="who">Signed in as <b>${esc(snapshot.viewer.name)}</b> (${esc(role)}) · <span id="live" class="live" role="status" hidden>Connecting…</span>
<button type="button" id="sign-out" class="secondary">Sign out</button></p>
</div>
<p id="notice" role="status" aria-live="polite" tabindex="-1"></p>
<div class="grid">
${sections}
</div>`;
}

/** The whole page with data, for a request that carried a valid token. */
export function renderDashboardPage(snapshot: StatusSnapshot, nowMs: number): string {
  return document('heat-gateway status', snapshot.version, renderDashboard(snapshot, nowMs), 'dashboard');
}
