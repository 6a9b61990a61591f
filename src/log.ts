/**
 * Logging: pino, JSON lines to stderr (stdout belongs to the stdio MCP
 * transport), pretty-printed when stderr is a terminal. Every path that can
 * carry a secret is redacted, whatever the caller logs.
 */
import pino, { type Logger, type LoggerOptions } from 'pino';
import { urlSecrets } from './notify/url.js';

export type { Logger };

/** Field names that may hold a secret anywhere in a logged object (two levels deep). */
const SECRET_FIELDS = [
  'password',
  'passphrase',
  'sudoPassword',
  'sshPassphrase',
  'token',
  'apiToken',
  'accessToken',
  'refreshToken',
  'access_token',
  'refresh_token',
  'authorization',
  'Authorization',
  'secret',
  'clientSecret',
  'client_secret',
  'privateKey',
  'cookie',
];

export const REDACT_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  ...SECRET_FIELDS.map((f) => `*.*.${f}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
];

export interface LogOptions {
  level?: LoggerOptions['level'];
  /** Force pretty output (default: when stderr is a TTY). */
  pretty?: boolean;
  /** Destination override (tests). */
  destination?: pino.DestinationStream;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const base: LoggerOptions = {
    name: 'loop-ops-mcp',
    level: opts.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  if (opts.destination) return pino(base, opts.destination);
  const pretty = opts.pretty ?? (process.stderr.isTTY === true && process.env.LOOP_OPS_LOG_FORMAT !== 'json');
  if (pretty) {
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  return pino(base, pino.destination({ dest: 2, sync: false }));
}

/**
 * Removes known secret values from free text (tool output, error messages,
 * remote stderr) before it leaves the process. Redaction by value catches
 * what path-based redaction cannot: a password echoed back by a remote tool.
 */
/**
 * A scrubber for every secret the configuration resolved (all of `Secrets`,
 * so none is forgotten). Lists of URLs (webhooks) contribute the URL and the
 * tokens inside it (path segments, query values): see src/notify/url.ts.
 */
export function scrubberFor(secrets: object): SecretScrubber {
  const values: string[] = [];
  for (const v of Object.values(secrets)) {
    if (typeof v === 'string') values.push(v);
    else if (Array.isArray(v)) for (const x of v) if (typeof x === 'string') values.push(...(/^https?:\/\//i.test(x) ? urlSecrets(x) : [x]));
  }
  return new SecretScrubber(values);
}

export class SecretScrubber {
  private readonly values: string[];
  constructor(secrets: Array<string | undefined>) {
    // Very short values would scrub ordinary text; a real secret is longer.
    this.values = [...new Set(secrets.filter((s): s is string => !!s && s.length >= 4))].sort(
      (a, b) => b.length - a.length,
    );
  }
  scrub(text: string): string {
    let out = text;
    for (const v of this.values) out = out.split(v).join('[redacted]');
    return out;
  }
}
