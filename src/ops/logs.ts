/**
 * A bounded tail of a container's logs, safe for a model's context: Docker
 * reads only the tail on the NAS side, a byte cap bounds what crosses the
 * wire, and the answer keeps the NEWEST lines within `maxBytes`, saying how
 * much was cut and how to narrow the request.
 */
import { type Color, colorContainerName, COLORS } from '../domain/index.js';
import { DockerError, type LogLine } from '../docker/index.js';
import { readUpstream } from '../bluegreen/nginx.js';
import type { Services } from '../services.js';
import { compileGrep, filterLines } from './grep.js';
import { LogsInputError } from './logs-errors.js';

export { LogsInputError } from './logs-errors.js';
export { compileGrep } from './grep.js';

export interface LogsRequest {
  /** Container name; or a color; default the live color's container. */
  container?: string;
  lines: number;
  since?: string;
  grep?: string;
  regex: boolean;
  stream: 'stdout' | 'stderr' | 'both';
  timestamps: boolean;
  maxBytes: number;
}

export interface LogsResult {
  container: string;
  lines: Array<{ stream: 'stdout' | 'stderr'; text: string }>;
  returnedLines: number;
  /** Lines that matched (before the byte cap), or that were read when no grep. */
  matchedLines: number;
  scannedLines: number;
  truncated: boolean;
  note: string | null;
}

/** `10m`, `2h`, `1d`, `30s`, or an ISO date → unix seconds. */
export function parseSince(since: string, now = Date.now()): number {
  const rel = /^(\d{1,6})\s*([smhd])$/.exec(since.trim());
  if (rel) {
    const mult = { s: 1, m: 60, h: 3600, d: 86400 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return Math.floor(now / 1000) - Number(rel[1]) * mult;
  }
  const t = Date.parse(since);
  if (!Number.isFinite(t)) throw new LogsInputError(`"since" must be like 10m, 2h, 1d or an ISO date (got ${JSON.stringify(since.slice(0, 40))})`);
  return Math.floor(t / 1000);
}

/** Keeps the newest lines whose total size fits in maxBytes. */
export function capNewest(lines: LogLine[], maxBytes: number): { kept: LogLine[]; cutLines: number; cutBytes: number } {
  let size = 0;
  let i = lines.length;
  while (i > 0) {
    const len = Buffer.byteLength(lines[i - 1]!.text) + 1;
    if (size + len > maxBytes) break;
    size += len;
    i--;
  }
  // A single line longer than the cap: keep its end rather than nothing.
  if (i === lines.length && lines.length) {
    const last = lines[lines.length - 1]!;
    const text = `…${Buffer.from(last.text).subarray(-maxBytes + 10).toString('utf8')}`;
    return { kept: [{ ...last, text }], cutLines: lines.length - 1, cutBytes: Buffer.byteLength(last.text) - maxBytes };
  }
  const cut = lines.slice(0, i);
  return { kept: lines.slice(i), cutLines: cut.length, cutBytes: cut.reduce((n, l) => n + Buffer.byteLength(l.text) + 1, 0) };
}

/** The containers logs may be read from: the app's two colors and the watched siblings. */
export function allowedContainers(s: Services): string[] {
  return [...COLORS.map((c) => colorContainerName(s.config.app.name, c)), ...s.config.app.watch];
}

async function liveContainer(s: Services, signal?: AbortSignal): Promise<string> {
  const color = (await readUpstream(s.pool, s.config, signal)).info.color;
  if (!color) throw new LogsInputError('the live color is unknown (nginx upstream unreadable); name the container explicitly');
  return colorContainerName(s.config.app.name, color);
}

/** Lines read from Docker when grepping: enough to find matches, bounded. */
export const GREP_SCAN_LINES = 20_000;

export async function getLogs(s: Services, req: LogsRequest, signal?: AbortSignal): Promise<LogsResult> {
  // Every input check comes before the first byte goes to the NAS.
  const checked = checkLogsRequest(req);
  let container = req.container;
  if (container === 'blue' || container === 'green') container = colorContainerName(s.config.app.name, container as Color);
  const allowed = allowedContainers(s);
  if (container !== undefined && !allowed.includes(container)) {
    throw new LogsInputError(`container must be one of: ${allowed.join(', ')} (or blue/green)`);
  }
  container ??= await liveContainer(s, signal);
  return tailLogs(s, container, req, checked, signal);
}

/** The request's since and grep, checked and compiled (throws LogsInputError). */
export function checkLogsRequest(req: Pick<LogsRequest, 'since' | 'grep' | 'regex'>) {
  return { since: req.since ? parseSince(req.since) : undefined, match: req.grep ? compileGrep(req.grep, req.regex) : undefined };
}

/** The bounded tail of one container (already checked as allowed), whatever the app's strategy. */
export async function tailLogs(
  s: Pick<Services, 'docker'>,
  container: string,
  req: LogsRequest,
  { since, match }: ReturnType<typeof checkLogsRequest>,
  signal?: AbortSignal,
): Promise<LogsResult> {
  const raw = await s.docker
    .logs(
    container,
    {
      stdout: req.stream !== 'stderr',
      stderr: req.stream !== 'stdout',
      tail: match ? GREP_SCAN_LINES : req.lines,
      since,
      timestamps: req.timestamps,
    },
    { signal, maxBytes: 32 * 1024 * 1024 },
    )
    .catch((e: unknown) => {
      if (e instanceof DockerError && e.status === 404) throw new LogsInputError(`container ${container} does not exist on the NAS`);
      throw e;
    });
  const matched = match ? await filterLines(raw, (l) => l.text, match, { signal }) : raw;
  const wanted = matched.slice(-req.lines);
  const { kept, cutLines, cutBytes } = capNewest(wanted, req.maxBytes);
  const notes: string[] = [];
  if (cutLines > 0) {
    notes.push(
      `${cutLines} older line(s) (${cutBytes} bytes) were cut to stay under ${req.maxBytes} bytes; ask for fewer lines, a narrower since, or a grep`,
    );
  }
  if (match && raw.length >= GREP_SCAN_LINES) notes.push(`grep searched only the last ${GREP_SCAN_LINES} lines; use since to look further back`);
  return {
    container,
    lines: kept,
    returnedLines: kept.length,
    matchedLines: matched.length,
    scannedLines: raw.length,
    truncated: cutLines > 0,
    note: notes.length ? notes.join('; ') : null,
  };
}
