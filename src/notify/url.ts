/**
 * Webhook URLs carry their credential in the URL itself: Slack's and
 * Discord's tokens are path segments, an ntfy topic is its own password,
 * generic receivers take `?token=`. So the whole URL, its path segments and
 * its query values are secrets, and logs name a webhook only by its origin.
 */

/** Path segments that are names, not tokens (scrubbing them would only garble logs). */
const PUBLIC_SEGMENTS = new Set(['api', 'hook', 'hooks', 'webhook', 'webhooks', 'services', 'notify', 'notifications', 'slack', 'discord', 'ntfy', 'v1', 'v2', 'v3']);
/** The last segment (Slack/Discord token, ntfy topic) is a secret from this length on. */
const MIN_LAST_SEGMENT = 6;
/** A middle segment is a secret when it looks like an id or a token: a digit in it, or this long. */
const MIN_TOKEN_LENGTH = 16;

/** Scrubbing a plain word such as `deployments` from every log would garble the logs and protect nothing. */
function isTokenSegment(s: string, last: boolean): boolean {
  if (PUBLIC_SEGMENTS.has(s.toLowerCase())) return false;
  if (last) return s.length >= MIN_LAST_SEGMENT;
  return s.length >= 4 && (/\d/.test(s) || s.length >= MIN_TOKEN_LENGTH);
}

/** The values of a webhook URL to scrub from any text: the URL, its token-like path segments, query values, userinfo. */
export function urlSecrets(raw: string): string[] {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return raw ? [raw] : [];
  }
  const out = new Set<string>([raw, u.href]);
  const segments = u.pathname.split('/').filter(Boolean);
  segments.forEach((seg, i) => {
    const s = safeDecode(seg);
    if (isTokenSegment(s, i === segments.length - 1)) {
      out.add(seg);
      out.add(s);
    }
  });
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
