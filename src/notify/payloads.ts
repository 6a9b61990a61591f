/**
 * What a webhook receives when an operation ends, per format. Pure functions:
 * an event in, an HTTP body and headers out (unit-tested per format).
 *
 * The engine's message can carry text from the NAS (git or build stderr): it
 * is data, so it is cut short and, for chat formats, stripped of markup that
 * would ping people (`<!channel>`, `@everyone`) or format links.
 */
import type { OperationFinished, OperationOutcome } from '../ops/events.js';

export type WebhookFormat = 'json' | 'slack' | 'discord' | 'ntfy';

/** The facts sent, whatever the format. */
export interface OperationNotice extends OperationFinished {
  /** Version of the color that served before (when known). */
  fromVersion: string | null;
  /** Version serving after (deploy: the new one; rollback: the previous one; restart: unchanged). */
  toVersion: string | null;
}

export interface WebhookRequest {
  body: string;
  headers: Record<string, string>;
}

const MAX_MESSAGE = 500;

const OUTCOME_WORD: Record<OperationOutcome, string> = {
  succeeded: 'succeeded',
  failed: 'FAILED',
  rolled_back: 'FAILED and was switched back',
  recovered: 'was recovered',
};

/** Discord embed / Slack attachment colors. */
const OUTCOME_COLOR: Record<OperationOutcome, number> = {
  succeeded: 0x2eb67d,
  failed: 0xe01e5a,
  rolled_back: 0xecb22e,
  recovered: 0x36c5f0,
};

const NTFY_TAGS: Record<OperationOutcome, string> = {
  succeeded: 'white_check_mark',
  failed: 'x',
  rolled_back: 'leftwards_arrow_with_hook',
  recovered: 'wrench',
};

export function formatDurationMs(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function side(color: string | null, version: string | null): string {
  return [color, version].filter(Boolean).join(' ') || '?';
}

/** One line for humans: `loop-api deploy succeeded on nas.local: blue 1.0.0 → green 1.1.0 in 12.8 s (by token:ab12…)`. */
/** Where: the target and its host (`prod (nas.local)`), or the host alone for the single-NAS file's `default`. */
export function whereOf(n: Pick<OperationNotice, 'target' | 'host'>): string {
  if (!n.host || n.host === n.target) return n.target;
  return n.target === 'default' ? n.host : `${n.target} (${n.host})`;
}

export function summaryLine(n: OperationNotice): string {
  const moved =
    n.fromColor && n.toColor && n.fromColor !== n.toColor
      ? `: ${side(n.fromColor, n.fromVersion)} → ${side(n.toColor, n.toVersion)}`
      : n.toColor || n.toVersion
        ? `: ${side(n.toColor, n.toVersion)}`
        : '';
  return `${n.app} ${n.kind} ${OUTCOME_WORD[n.outcome]} on ${whereOf(n)}${moved} in ${formatDurationMs(n.durationMs)} (by ${n.who})`;
}

export function shortMessage(m: string | null): string | null {
  if (!m) return null;
  const one = m.replace(/\s+/g, ' ').trim();
  return one.length > MAX_MESSAGE ? `${one.slice(0, MAX_MESSAGE)}…` : one;
}

/** The `json` format: every fact, flat, stable field names. */
export function jsonPayload(n: OperationNotice): WebhookRequest {
  const body = {
    event: 'operation.finished',
    operationId: n.operationId,
    kind: n.kind,
    outcome: n.outcome,
    app: n.app,
    target: n.target,
    host: n.host ?? null,
    who: n.who,
    fromColor: n.fromColor,
    toColor: n.toColor,
    fromVersion: n.fromVersion,
    toVersion: n.toVersion,
    image: n.image,
    commit: n.commit,
    startedAt: n.startedAt,
    endedAt: n.endedAt,
    durationMs: n.durationMs,
    message: shortMessage(n.message),
    summary: summaryLine(n),
  };
  return { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
}

/** Slack mrkdwn: &, <, > escaped (so `<!channel>` or `<http://…|x>` in NAS text stay text). */
export function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function facts(n: OperationNotice): Array<[string, string]> {
  const f: Array<[string, string]> = [
    ['Target', `${n.app} on ${whereOf(n)}`],
    ['Outcome', n.outcome],
  ];
  if (n.fromColor || n.fromVersion) f.push(['From', side(n.fromColor, n.fromVersion)]);
  if (n.toColor || n.toVersion) f.push(['To', side(n.toColor, n.toVersion)]);
  f.push(['Duration', formatDurationMs(n.durationMs)], ['By', n.who], ['Operation', n.operationId]);
  return f;
}

/** Slack incoming webhook: `text` (notifications, fallback) plus blocks. */
export function slackPayload(n: OperationNotice): WebhookRequest {
  const msg = shortMessage(n.message);
  const blocks: unknown[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*${slackEscape(summaryLine(n))}*` } },
    { type: 'section', fields: facts(n).map(([k, v]) => ({ type: 'mrkdwn', text: `*${k}*\n${slackEscape(v)}` })) },
  ];
  if (msg) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: slackEscape(msg), verbatim: true }] });
  const body = { text: slackEscape(summaryLine(n)), blocks };
  return { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
}

/** Discord: mentions neutralised both by allowed_mentions and by a zero-width space after @. */
export function discordEscape(s: string): string {
  return s.replace(/@/g, '@\u200b');
}

/** Discord execute-webhook body: one embed, no mentions allowed. */
export function discordPayload(n: OperationNotice): WebhookRequest {
  const msg = shortMessage(n.message);
  const body = {
    content: discordEscape(summaryLine(n)).slice(0, 2000),
    allowed_mentions: { parse: [] as string[] },
    embeds: [
      {
        title: discordEscape(`${n.app} ${n.kind}: ${n.outcome}`).slice(0, 256),
        color: OUTCOME_COLOR[n.outcome],
        fields: facts(n).map(([name, value]) => ({ name, value: discordEscape(value).slice(0, 1024), inline: true })),
        ...(msg ? { description: discordEscape(msg) } : {}),
        timestamp: n.endedAt,
      },
    ],
  };
  return { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
}

/** HTTP header values must be latin1; ntfy titles are ASCII here. */
function asciiHeader(s: string): string {
  return s.replace(/→/g, '->').replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

/** ntfy: POST to the topic URL, the message as plain text, title/tags/priority as headers. */
export function ntfyPayload(n: OperationNotice): WebhookRequest {
  const msg = shortMessage(n.message);
  const lines = [summaryLine(n), ...(msg ? [msg] : []), `operation ${n.operationId}`];
  return {
    body: lines.join('\n'),
    headers: {
      'content-type': 'text/plain; charset=utf-8',
      Title: asciiHeader(`${n.app} ${n.kind} ${n.outcome}`),
      Tags: NTFY_TAGS[n.outcome],
      Priority: n.outcome === 'succeeded' ? '3' : '4',
    },
  };
}

export function buildPayload(format: WebhookFormat, n: OperationNotice): WebhookRequest {
  switch (format) {
    case 'slack':
      return slackPayload(n);
    case 'discord':
      return discordPayload(n);
    case 'ntfy':
      return ntfyPayload(n);
    default:
      return jsonPayload(n);
  }
}
