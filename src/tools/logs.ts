import { z } from 'zod';
import { getLogs } from '../ops/logs.js';
import { RESOURCE_URI } from '../resources/index.js';
import type { Services } from '../services.js';
import { swarmHandlers } from './swarm.js';
import { defineTool } from './types.js';
import { fenceUntrusted } from './untrusted.js';

export const logsTool = defineTool({
  name: 'logs',
  title: 'Container logs',
  description:
    "Reads the newest lines of a container's logs (stdout and/or stderr), bounded so it never floods the context: " +
    'at most `lines` lines and `max_bytes` bytes, keeping the newest and saying what was cut. ' +
    'Default container: the live color. Use `grep` to find errors, `since` to look at a time window. ' +
    'Containers: the app colors (blue, green or their names) and the watched siblings; for a recreate app, <app> (default) and <app>-previous.',
  inputSchema: {
    container: z
      .string()
      .max(128)
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'a container name or blue/green')
      .optional()
      .describe('Container name, or "blue"/"green"; default the container nginx routes to.'),
    lines: z.number().int().min(1).max(5000).default(200).describe('How many of the newest lines to return (1-5000).'),
    since: z.string().max(40).optional().describe('Only lines newer than this: 30s, 10m, 2h, 1d, or an ISO date.'),
    grep: z.string().min(1).max(200).optional().describe('Keep only lines containing this text (case-insensitive).'),
    regex: z.boolean().default(false).describe('Treat grep as a regular expression (RE2 syntax, linear time: no backreferences or lookaround).'),
    stream: z.enum(['both', 'stdout', 'stderr']).default('both').describe('Which output stream to read.'),
    timestamps: z.boolean().default(true).describe("Prefix each line with Docker's timestamp."),
    max_bytes: z.number().int().min(1024).max(262_144).default(32_768).describe('Cap on the returned text in bytes (1 KiB-256 KiB).'),
  },
  outputSchema: {
    container: z.string(),
    lines: z.array(z.object({ stream: z.enum(['stdout', 'stderr']), text: z.string() })),
    returnedLines: z.number(),
    matchedLines: z.number(),
    scannedLines: z.number(),
    truncated: z.boolean(),
    partial: z
      .boolean()
      .optional()
      .describe('Swarm service logs only: true when Docker did not end the service-wide log stream in time and the lines are those of each running task instead (note says why).'),
    note: z.string().nullable(),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  access: 'read',
  handler: (svc: Services) => async (args, ctx) => {
    const r = await getLogs(
      svc,
      {
        container: args.container,
        lines: args.lines,
        since: args.since,
        grep: args.grep,
        regex: args.regex,
        stream: args.stream,
        timestamps: args.timestamps,
        maxBytes: args.max_bytes,
      },
      ctx.signal,
    );
    const header = `${r.container}: ${r.returnedLines} line(s)${args.grep ? ` matching ${JSON.stringify(args.grep)} (of ${r.scannedLines} read)` : ''}${r.note ? `\nnote: ${r.note}` : ''}`;
    const body = r.lines.map((l) => (args.stream === 'both' && l.stream === 'stderr' ? `[err] ${l.text}` : l.text)).join('\n');
    // Cut by lines or bytes: the long tail is a resource the client can fetch.
    const cut = r.truncated || (!args.grep && r.returnedLines >= args.lines);
    const links = cut ? [{ uri: RESOURCE_URI.logs(r.container), name: `logs of ${r.container}`, description: 'The newest 5000 lines (≤ 1 MiB)', mimeType: 'text/plain' }] : [];
    // Log lines are written by the app, not by us: the model reads them as fenced data.
    const text = r.lines.length ? `${header}\n${fenceUntrusted(`log lines of ${r.container}`, body)}` : header;
    return { structured: r, text, links };
  },
  strategies: { 'swarm-service': swarmHandlers.logs },
});
