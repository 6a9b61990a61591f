import { z } from 'zod';
import { getHealth, healthBodies, healthText } from '../ops/health.js';
import type { Services } from '../services.js';
import { defineTool } from './types.js';
import { fenceUntrusted } from './untrusted.js';

export const healthTool = defineTool({
  name: 'health',
  title: 'Health checks',
  description:
    "Checks the app's health endpoint the way users and nginx reach it: the public URL (if configured), nginx's front " +
    "on the NAS, and each running color's own port. Returns status code, latency and the start of the body for each, " +
    "plus Docker's own health state per color. For a recreate app: its own port on the NAS and Docker's health of <app> and <app>-previous. " +
    'Use it to confirm the app answers, before and after a change.',
  inputSchema: {
    timeout_ms: z.number().int().min(500).max(30_000).default(5_000).describe('Per-check timeout in milliseconds.'),
  },
  outputSchema: {
    healthy: z.boolean().describe('Whether what users reach (public URL, else the nginx front) answered 2xx'),
    checks: z.array(
      z.object({
        target: z.string(),
        url: z.string(),
        ok: z.boolean(),
        status: z.number().nullable(),
        latencyMs: z.number(),
        body: z.string(),
        error: z.string().nullable(),
      }),
    ),
    containers: z.array(
      z.object({
        color: z.enum(['blue', 'green']).nullable().describe('blue-green: the color; recreate: null (see role)'),
        role: z.enum(['live', 'previous']).optional().describe('recreate: <app> (live) or <app>-previous'),
        name: z.string(),
        exists: z.boolean(),
        state: z.string().nullable(),
        dockerHealth: z.string().nullable(),
      }),
    ),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  access: 'read',
  handler: (svc: Services) => async (args, ctx) => {
    const r = await getHealth(svc, { timeoutMs: args.timeout_ms, signal: ctx.signal });
    // Bodies and error texts are whatever the app (or the NAS) answered: fenced as data.
    const bodies = healthBodies(r);
    return {
      structured: { ...r, checks: r.checks.map((c) => ({ ...c, status: c.status ?? null, error: c.error ?? null })) },
      text: bodies ? `${healthText(r)}\n${fenceUntrusted('health answers', bodies)}` : healthText(r),
    };
  },
});
