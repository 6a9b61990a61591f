/**
 * The tools' handlers for swarm-service apps (a `driver: swarm` target):
 * the same tool names and arguments, answered by the Swarm driver
 * (src/swarm). Arguments that only mean something for two colors behind
 * nginx are refused with a hint rather than ignored.
 */
import type { Services, SwarmServices } from '../services.js';
import { swarmContextOf, swarmDriver } from '../swarm/index.js';
import { runAsJob } from './jobs.js';
import type { ToolContext } from './types.js';
import { ToolError } from './types.js';
import { fenceUntrusted } from './untrusted.js';

const notHere = (what: string, hint: string) => new ToolError(`${what} does not apply to a Swarm service`, hint, 'not_applicable');

export const swarmHandlers = {
  /** release_lock reads only the lock in the app's state dir: the blue-green handler on the swarm app's view. */
  releaseLock: <H>(handler: (svc: Services) => H) => (s: SwarmServices) => handler(swarmContextOf(s).svc),

  status: (s: SwarmServices) => {
    const driver = swarmDriver(swarmContextOf(s));
    return async (args: { history: number }, ctx: ToolContext) => {
      const st = await driver.status({ historyLimit: args.history, signal: ctx.signal });
      // The fields both kinds of app share keep their names; the Swarm-only ones are under `swarm`.
      const { lock, interruptedOperation, recentDeployments, warnings, checkedAt, app, ...swarm } = st;
      return {
        structured: { target: s.target, strategy: 'swarm-service', app, lock, interruptedOperation, recentDeployments, warnings, checkedAt, swarm },
        text: driver.statusText(st),
      };
    };
  },

  deploy: (s: SwarmServices) => {
    const ctxOf = swarmContextOf(s);
    const driver = swarmDriver(ctxOf);
    return async (args: { pull: boolean; ref?: string; dry_run: boolean; wait_seconds?: number }, ctx: ToolContext) => {
      const req = { pull: args.pull, ref: args.ref };
      if (args.dry_run) {
        const steps = driver.planDeploy(req);
        return {
          structured: { jobId: null, state: 'planned' as const, phase: 'plan', startedAt: null, endedAt: null, progress: [], result: { dryRun: true, steps } },
          text: `dry run (nothing changed):\n${steps.map((x, i) => `${i + 1}. ${x.step}: ${x.command ?? ''}${x.note ? `${x.command ? ' — ' : ''}${x.note}` : ''}`).join('\n')}`,
        };
      }
      return runAsJob(ctxOf.svc, ctx, 'deploy', args.wait_seconds, (j) => driver.deploy(req, { ...j, who: { caller: ctx.caller.id } }));
    };
  },

  rollback: (s: SwarmServices) => {
    const ctxOf = swarmContextOf(s);
    const driver = swarmDriver(ctxOf);
    return async (args: { to?: string; wait_seconds?: number }, ctx: ToolContext) => {
      if (args.to !== undefined) {
        throw notHere('rollback with `to`', 'A Swarm service rolls back to its previous spec (rollback without `to`); to run an older version, deploy its ref.');
      }
      return runAsJob(ctxOf.svc, ctx, 'rollback', args.wait_seconds, (j) => driver.rollback({ ...j, who: { caller: ctx.caller.id } }));
    };
  },

  restart: (s: SwarmServices) => {
    const ctxOf = swarmContextOf(s);
    const driver = swarmDriver(ctxOf);
    return async (args: { in_place: boolean; dry_run: boolean; wait_seconds?: number }, ctx: ToolContext) => {
      if (args.in_place) throw notHere('in_place', 'A Swarm service restarts task by task, start-first: always without downtime (leave in_place false).');
      if (args.dry_run) {
        const result = { dryRun: true, steps: [{ step: 'restart', note: `POST /services/${ctxOf.app.service}/update with ForceUpdate + 1: every task replaced, start-first, one at a time` }] };
        return {
          structured: { jobId: null, state: 'planned' as const, phase: 'plan', startedAt: null, endedAt: null, progress: [], result },
          text: `dry run (nothing changed):\n1. restart: ${result.steps[0]!.note}`,
        };
      }
      return runAsJob(ctxOf.svc, ctx, 'restart', args.wait_seconds, (j) => driver.restart({ ...j, who: { caller: ctx.caller.id } }));
    };
  },

  logs: (s: SwarmServices) => {
    const driver = swarmDriver(swarmContextOf(s));
    return async (
      args: { container?: string; lines: number; since?: string; grep?: string; regex: boolean; stream: 'both' | 'stdout' | 'stderr'; timestamps: boolean; max_bytes: number },
      ctx: ToolContext,
    ) => {
      if (args.since !== undefined || args.regex) throw notHere('since / regex', 'Read the newest lines (lines) and filter with a plain grep.');
      const r = await driver.logs({ tail: args.lines, task: args.container, stderr: args.stream !== 'stdout' }, ctx.signal);
      const scanned = r.lines.filter((l) => args.stream === 'both' || l.stream === args.stream);
      const needle = args.grep?.toLowerCase();
      const matched = needle ? scanned.filter((l) => l.text.toLowerCase().includes(needle)) : scanned;
      // Newest last; keep the newest within max_bytes.
      const kept: typeof matched = [];
      let bytes = 0;
      for (let i = matched.length - 1; i >= 0 && kept.length < args.lines; i--) {
        bytes += Buffer.byteLength(matched[i]!.text) + 1;
        if (bytes > args.max_bytes) break;
        kept.unshift(matched[i]!);
      }
      const name = r.task ?? `service ${r.service}`;
      const truncated = kept.length < matched.length;
      const structured = {
        container: name,
        lines: kept,
        returnedLines: kept.length,
        matchedLines: matched.length,
        scannedLines: scanned.length,
        truncated,
        // partial: the manager did not end the service's log stream in time; these are each running task's (the note says so).
        partial: r.partial,
        note: r.note ?? (r.task ? null : 'every task of the service, as the manager gathers them (give container: a slot number or task id for one task)'),
      };
      const header = `${name}: ${kept.length} line(s)${args.grep ? ` matching ${JSON.stringify(args.grep)} (of ${scanned.length} read)` : ''}${r.note ? `\nnote: ${r.note}` : ''}`;
      const body = kept.map((l) => (args.stream === 'both' && l.stream === 'stderr' ? `[err] ${l.text}` : l.text)).join('\n');
      return { structured, text: kept.length ? `${header}\n${fenceUntrusted(`log lines of ${name}`, body)}` : header };
    };
  },
};
