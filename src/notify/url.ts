/**
 * Webhook URLs carry their credential in the URL itself: Slack's and
 * Discord's tokens are path segments, an ntfy topic is its own password,
 * generic receivers take `?token=`. So the whole URL, its path segments and
 * its query values are secrets, and logs name a webhook only by its origin.
 */

/** Path segments that are names, not tokens (scrubbing them would only garble logs). */
const PUBLIC_SEGMENTS = new Set(['api', 'hooks', 'webhook', 'webhooks', 'services', 'notify', 'slack', 'discord', 'ntfy', 'v1', 'v2', 'v3']);
/** Shorter path segments are words rather than tokens; query values and passwords count from the scrubber's own floor. */
const MIN_SEGMENT = 8;

/** The values of a webhook URL to scrub from any text: the URL, its token-like path segments, query values, userinfo. */
export function urlSecrets(raw: string): string[] {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return raw ? [raw] : [];
  }
  const out = new Set<string>([raw, u.href]);
  for (const seg of u.pathname.split('/')) {
    const s = safeDecode(seg);
    if (s.length >= MIN_SEGMENT && !PUBLIC_SEGMENTS.has(s.toLowerCase())) {
      out.add(seg);
      out.add(s);
    }
  }
  for (const [, v] of u.searchParams) if (v) out.add(v);
  if (u.search.length > 1) out.add(u.search.slice(1));
  if (u.username) out.add(safeDecode(u.username));
  if (u.password) out.add(safeDecode(u.password));
  return [...out];
}

/** How a webhook appears in logs: its origin only (`https://hooks.slack.com/…`). */
export function displayUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '(invalid URL)';
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
