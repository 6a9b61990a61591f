/**
 * The blue-green engine: deploy, rollback, restart, stop, OAuth reset and
 * recovery. Every operation derives its starting point from the NAS (the
 * upstream file in place, container labels), holds the NAS lock, journals
 * its phases on the NAS, and records its outcome in the history. Traffic only
 * ever moves to a color that passed its health gate, and moves back by
 * itself when verification through the front fails.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { ContainerSpec } from '../docker/index.js';
import type { Services } from '../ops/services.js';
import { outcomeOf, type OperationEvents } from '../ops/events.js';
import { probeFromNas, type HttpProbe } from '../ops/nas-http.js';
import { colorContainerName, LABEL_APP, LABEL_COLOR, LABEL_COMMIT, LABEL_DEPLOYMENT, LABEL_VERSION } from '../ops/status.js';
import { waitHealthy } from './health-gate.js';
import { Journal, appendHistory, readJournal } from './journal.js';
import { acquireLock, readLock, releaseLock } from './lock.js';
import { readUpstream, switchUpstream } from './nginx.js';
import type { HealthGate, HistoryRecord, LockDetails, OperationKind, ProgressFn } from './types.js';
import { otherColor, type Color } from './upstream.js';

/** An expected failure with a hint and, when useful, the partial result. */
export class OperationError extends Error {
  constructor(
    message: string,
    readonly hint: string,
    readonly result?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'OperationError';
  }
}

export interface Who {
  /** Caller id for the lock and history. */
  caller: string;
}

export interface DeployRequest {
  /** `git pull --ff-only` the checkout first. */
  pull: boolean;
  /** Or check out this ref (branch, tag, commit) after fetching. */
  ref?: string;
  dryRun: boolean;
}

export interface PlanStep {
  step: string;
  detail: string;
}

const REF_RE = /^(?!-)[A-Za-z0-9._/-]{1,100}$/;
const now = () => new Date().toISOString();
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
  });

/** The journal, plus a phase event to observers each time the operation enters a phase. */
function observeJournal(journal: Journal, events: OperationEvents | undefined, kind: string): Journal {
  if (!events) return journal;
  const phase = journal.phase.bind(journal);
  journal.phase = (name, detail) => {
    events.phase({ operationId: journal.entry.operationId, kind, phase: name, at: now() });
    return phase(name, detail);
  };
  return journal;
}

export function newOperationId(kind: OperationKind, at = new Date()): string {
  const ts = at.toISOString().replace(/[-:]/g, '').replace('T', '-').replace(/\..*/, '');
  return `${kind}-${ts}-${randomBytes(2).toString('hex')}`;
}

/** Immutable image tag: time + commit (never reused, never pruned by us). */
export function imageTag(app: string, at: Date, commit: string): string {
  const ts = at.toISOString().replace(/[-:T]/g, '').replace(/\..*/, '');
  return `${app}:${ts}-${commit.slice(0, 7)}`;
}

/** Label-safe version text from a VERSION file or git describe. */
export function cleanVersion(raw: string): string {
  const v = raw.trim().split('\n')[0]!.replace(/[^A-Za-z0-9._+-]/g, '').slice(0, 64);
  return v || 'unknown';
}

export class BlueGreen {
  constructor(private readonly s: Services) {}

  private get app() {
    return this.s.config.app;
  }

  private gate(): HealthGate {
    const d = this.s.config.deploy;
    return { attempts: d.healthAttempts, intervalMs: d.healthIntervalMs, successThreshold: d.healthSuccessThreshold, timeoutMs: d.healthTimeoutMs };
  }

  private colorTarget(color: Color) {
    return { host: '127.0.0.1', port: this.app.colorPorts[color], path: this.app.healthPath };
  }

  /** The live color from the upstream in place; refuses to guess. */
  async liveColor(signal?: AbortSignal): Promise<Color> {
    const up = await readUpstream(this.s.pool, this.s.config, signal);
    if (!up.info.color) {
      throw new OperationError(
        `the live color is unknown: ${this.s.config.nginx.upstreamFile} ${up.text === undefined ? 'is missing' : `names ${up.info.servers.join(', ') || 'no server'}`}`,
        `Point the upstream at one color's port (${this.app.colorPorts.blue} blue, ${this.app.colorPorts.green} green) and run status again.`,
      );
    }
    return up.info.color;
  }

  // --- lock, journal, history ---------------------------------------------

  private async begin(kind: OperationKind, who: Who, detail: Record<string, string>): Promise<{ id: string; journal: Journal; started: string; t0: number; who: string }> {
    const id = newOperationId(kind);
    const lock: LockDetails = { operationId: id, operation: kind, holder: who.caller, since: now(), host: hostname(), pid: process.pid };
    await acquireLock(this.s.pool, this.s.config.state.dir, lock);
    const journal = observeJournal(new Journal(this.s.pool, this.s.config.state.dir, { operationId: id, kind, detail }), this.s.events, kind);
    const started = now();
    this.s.events?.started({ operationId: id, kind, app: this.app.name, target: this.s.config.nas.host, who: who.caller, startedAt: started, detail });
    try {
      await journal.phase('locked');
    } catch (e) {
      await releaseLock(this.s.pool, this.s.config.state.dir, id).catch(() => {});
      this.finishedEvent({ id, started, who: who.caller }, { kind, fromColor: null, toColor: null, image: null, version: null, commit: null, outcome: 'failed', message: (e as Error).message }, 0);
      throw e;
    }
    return { id, journal, started, t0: performance.now(), who: who.caller };
  }

  /** Tells observers (metrics, webhooks) how an operation ended; never throws. */
  private finishedEvent(
    op: { id: string; started: string; who: string },
    rec: Pick<HistoryRecord, 'kind' | 'fromColor' | 'toColor' | 'image' | 'version' | 'commit' | 'outcome' | 'message'>,
    durationMs: number,
  ): void {
    this.s.events?.finished({
      operationId: op.id,
      kind: rec.kind,
      app: this.app.name,
      target: this.s.config.nas.host,
      who: op.who,
      outcome: outcomeOf(rec.outcome),
      fromColor: rec.fromColor,
      toColor: rec.toColor,
      version: rec.version,
      image: rec.image,
      commit: rec.commit,
      message: rec.message,
      startedAt: op.started,
      endedAt: now(),
      durationMs: Math.max(0, Math.round(durationMs)),
    });
  }

  private async end(
    op: { id: string; journal: Journal; started: string; t0: number; who: string },
    rec: Omit<HistoryRecord, 'id' | 'startedAt' | 'endedAt'>,
    finalPhase: 'done' | 'failed' | 'rolled_back' | 'recovered',
  ): Promise<void> {
    // Each step is attempted even if one fails: the lock must not outlive us.
    const errors: string[] = [];
    await op.journal.finish(finalPhase, { outcome: rec.outcome }).catch((e: Error) => errors.push(`journal: ${e.message}`));
    await appendHistory(this.s.pool, this.s.config.state.dir, { ...rec, id: op.id, startedAt: op.started, endedAt: now() }).catch((e: Error) =>
      errors.push(`history: ${e.message}`),
    );
    await releaseLock(this.s.pool, this.s.config.state.dir, op.id).catch((e: Error) => errors.push(`lock: ${e.message}`));
    if (errors.length) this.s.log.error({ operationId: op.id, errors }, 'could not record the end of an operation');
    this.finishedEvent(op, rec, performance.now() - op.t0);
  }

  private async lastLogs(container: string, lines = 20): Promise<string[]> {
    try {
      const l = await this.s.docker.logs(container, { stdout: true, stderr: true, tail: lines, timestamps: false });
      return l.map((x) => (x.stream === 'stderr' ? `[err] ${x.text}` : x.text));
    } catch {
      return [];
    }
  }

  // --- deploy ---------------------------------------------------------------

  async deploy(req: DeployRequest, who: Who, progress: ProgressFn, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const { pool, docker, config } = this.s;
    const app = this.app;
    if (req.ref !== undefined && !REF_RE.test(req.ref)) {
      throw new OperationError(`invalid git ref ${JSON.stringify(req.ref.slice(0, 40))}`, 'Give a branch, tag or commit: letters, digits, . _ / - (not starting with -).');
    }
    const from = await this.liveColor(signal);
    const to = otherColor(from);
    const toName = colorContainerName(app.name, to);
    const fromName = colorContainerName(app.name, from);
    const git = (...args: string[]) => ['git', '-C', app.checkoutDir, ...args];

    if (req.dryRun) {
      const steps: PlanStep[] = [
        { step: 'lock', detail: `mkdir ${posix.join(config.state.dir, 'lock')} (refused if another operation holds it)` },
        ...(req.ref
          ? [
              { step: 'fetch', detail: git('fetch', '--prune', 'origin').join(' ') },
              { step: 'checkout', detail: git('checkout', '--detach', req.ref).join(' ') },
            ]
          : req.pull
            ? [{ step: 'pull', detail: git('pull', '--ff-only').join(' ') }]
            : []),
        { step: 'build', detail: `${config.docker.binary} build --tag ${app.name}:<time>-<commit> -- ${app.checkoutDir}` },
        { step: 'start', detail: `replace ${toName} with the new image, same env/volumes/network as ${fromName}, published 127.0.0.1:${app.colorPorts[to]}` },
        { step: 'health', detail: `GET ${app.healthPath} on 127.0.0.1:${app.colorPorts[to]} up to ${config.deploy.healthAttempts}×${config.deploy.healthIntervalMs} ms` },
        { step: 'switch', detail: `upstream → 127.0.0.1:${app.colorPorts[to]}; ${config.nginx.testCommand.join(' ')}; ${config.nginx.reloadCommand.join(' ')}` },
        { step: 'verify', detail: `GET ${app.healthPath} through the front (127.0.0.1:${app.frontPort}) for ${config.deploy.verifySeconds} s; any failure switches back to ${from}` },
        { step: 'keep', detail: `${fromName} stays ${config.deploy.keepPrevious} for instant rollback` },
      ];
      return { dryRun: true, fromColor: from, toColor: to, steps, message: `would deploy to ${to}; nothing was changed` };
    }

    const op = await this.begin('deploy', who, { fromColor: from, toColor: to, container: toName });
    const timings: Record<string, number> = {};
    const t = () => performance.now();
    let image: string | null = null;
    let commit: string | null = null;
    let version: string | null = null;
    let switched = false;
    const fail = async (phase: string, message: string, hint: string, extra: Record<string, unknown> = {}) => {
      const logs = await this.lastLogs(toName);
      await this.end(op, { kind: 'deploy', fromColor: from, toColor: to, image, version, commit, who: who.caller, outcome: switched ? 'rolled_back' : 'failed', message }, switched ? 'rolled_back' : 'failed');
      throw new OperationError(message, hint, { operationId: op.id, phase, fromColor: from, toColor: to, image, liveColor: from, lastLogLines: logs, timingsMs: timings, ...extra });
    };

    try {
      // 1. source
      let t0 = t();
      if (req.ref) {
        await op.journal.phase('fetch');
        progress(`fetching and checking out ${req.ref}`);
        await pool.run(git('fetch', '--prune', 'origin'), { timeoutMs: 120_000, signal });
        const r = await pool.exec(git('checkout', '--detach', req.ref), { timeoutMs: 60_000, signal });
        if (r.code !== 0) return await fail('fetch', `git checkout ${req.ref} failed: ${r.stderr.trim().slice(0, 300)}`, 'Check the ref exists on origin.');
      } else if (req.pull) {
        await op.journal.phase('pull');
        progress(`git pull --ff-only in ${app.checkoutDir}`);
        const r = await pool.exec(git('pull', '--ff-only'), { timeoutMs: 120_000, signal });
        if (r.code !== 0) return await fail('pull', `git pull --ff-only failed: ${r.stderr.trim().slice(0, 300)}`, 'The checkout on the NAS has diverged or has local changes; fix it there, or deploy a ref.');
      }
      commit = (await pool.run(git('rev-parse', 'HEAD'), { timeoutMs: 15_000, signal })).stdout.trim();
      const vfile = await pool.exec(['cat', '--', posix.join(app.checkoutDir, 'VERSION')], { timeoutMs: 15_000, signal });
      version = cleanVersion(vfile.code === 0 ? vfile.stdout : (await pool.run(git('describe', '--always', '--tags'), { timeoutMs: 15_000 })).stdout);
      timings.source = t() - t0;

      // 2. build an immutable image
      t0 = t();
      image = imageTag(app.name, new Date(), commit);
      await op.journal.phase('build', { image, commit, version });
      progress(`building ${image} (version ${version}, commit ${commit.slice(0, 7)})`);
      let lastLine = 0;
      try {
        await docker.build(
          { contextDir: app.checkoutDir, tag: image, labels: { [LABEL_APP]: app.name, [LABEL_VERSION]: version, [LABEL_COMMIT]: commit } },
          (line) => {
            // Build output is chatty: pass on at most one line every 500 ms.
            if (performance.now() - lastLine > 500 && line.trim()) {
              lastLine = performance.now();
              progress(`build: ${line.trim().slice(0, 200)}`);
            }
          },
          signal,
          config.deploy.buildTimeoutMs,
        );
      } catch (e) {
        return await fail('build', (e as Error).message.slice(0, 2000), 'Fix the build on the NAS checkout; nothing was changed and traffic is untouched.');
      }
      timings.build = t() - t0;

      // 3. start the idle color with the live one's config
      t0 = t();
      await op.journal.phase('start');
      const base = await docker.containerSpec(fromName, signal);
      const spec: ContainerSpec = {
        name: toName,
        image,
        labels: { ...(base?.labels ?? {}), [LABEL_APP]: app.name, [LABEL_COLOR]: to, [LABEL_VERSION]: version, [LABEL_COMMIT]: commit, [LABEL_DEPLOYMENT]: op.id },
        env: { ...(base?.env ?? {}), COLOR: to },
        binds: base?.binds.length ? base.binds : [{ host: app.vaultPath, container: app.vaultMount }],
        network: app.network,
        aliases: [toName],
        publish: { hostIp: '127.0.0.1', hostPort: app.colorPorts[to], containerPort: app.containerPort },
        restartPolicy: 'unless-stopped',
      };
      progress(`starting ${toName} on 127.0.0.1:${app.colorPorts[to]}`);
      await docker.remove(toName, { force: true, signal });
      await docker.create(spec, signal);
      await docker.start(toName, signal);
      timings.start = t() - t0;

      // 4. health gate
      t0 = t();
      await op.journal.phase('health');
      const gate = this.gate();
      const h = await waitHealthy(pool, this.colorTarget(to), gate, {
        signal,
        onAttempt: (n, p) => progress(`health ${n}/${gate.attempts}: ${p.ok ? 'ok' : (p.status ?? p.error ?? 'no answer')}`),
      });
      timings.health = t() - t0;
      if (!h.ok) {
        await docker.stop(toName, 5).catch(() => {});
        return await fail(
          'health',
          `${toName} did not become healthy after ${h.attempts} attempts (${describeProbe(h.last)}); traffic stayed on ${from}`,
          `Read the last log lines below or call logs with container ${toName}; fix and deploy again. ${toName} is stopped but kept for inspection.`,
        );
      }

      // 5. switch
      t0 = t();
      await op.journal.phase('switch');
      progress(`switching nginx to ${to}`);
      try {
        await switchUpstream(pool, config, to, op.id, { signal });
      } catch (e) {
        return await fail('switch', `nginx switch failed: ${(e as Error).message}`, (e as { hint?: string }).hint ?? `Traffic is still on ${from}; check the nginx config on the NAS.`);
      }
      switched = true;
      timings.switch = t() - t0;

      // 6. verify through the front
      t0 = t();
      await op.journal.phase('verify');
      const v = await this.verifyFront(config.deploy.verifySeconds, config.deploy.verifyIntervalMs, progress, signal);
      timings.verify = t() - t0;
      if (!v.ok) {
        progress(`verification failed (${describeProbe(v.last)}): switching back to ${from}`);
        await switchUpstream(pool, config, from, op.id).catch((e: Error) => progress(`SWITCH BACK FAILED: ${e.message}`));
        return await fail('verify', `the front failed verification after the switch (${describeProbe(v.last)}); switched back to ${from}`, `Traffic is on ${from} again. Inspect ${toName} with logs.`);
      }

      // 7. keep or stop the previous color
      if (config.deploy.keepPrevious === 'stopped') await docker.stop(fromName, 10).catch(() => {});
      const result = {
        operationId: op.id,
        fromColor: from,
        toColor: to,
        liveColor: to,
        image,
        version,
        commit,
        previousKept: config.deploy.keepPrevious,
        timingsMs: Object.fromEntries(Object.entries(timings).map(([k, n]) => [k, Math.round(n)])),
      };
      await this.end(op, { kind: 'deploy', fromColor: from, toColor: to, image, version, commit, who: who.caller, outcome: 'succeeded', message: null }, 'done');
      progress(`deployed ${version} on ${to}; ${from} kept ${config.deploy.keepPrevious} for rollback`);
      return result;
    } catch (e) {
      if (e instanceof OperationError) throw e;
      // Unexpected (SSH dropped, Docker refused…): leave traffic where it is safe.
      if (switched) await switchUpstream(pool, config, from, op.id).catch(() => {});
      await this.end(op, { kind: 'deploy', fromColor: from, toColor: to, image, version, commit, who: who.caller, outcome: 'failed', message: (e as Error).message }, 'failed').catch(() => {});
      throw e;
    }
  }

  /** Probes the front for `seconds`; two failures in a row fail it. */
  private async verifyFront(seconds: number, intervalMs: number, progress: ProgressFn, signal?: AbortSignal): Promise<{ ok: boolean; last: HttpProbe | undefined }> {
    const end = Date.now() + seconds * 1000;
    let failures = 0;
    let last: HttpProbe | undefined;
    let n = 0;
    do {
      last = await probeFromNas(this.s.pool, '127.0.0.1', this.app.frontPort, this.app.healthPath, this.s.config.deploy.healthTimeoutMs, signal);
      n++;
      failures = last.ok ? 0 : failures + 1;
      if (failures >= 2) return { ok: false, last };
      if (n % 10 === 1) progress(`verify through the front: ${last.ok ? 'ok' : describeProbe(last)}`);
      if (Date.now() >= end) break;
      await sleep(intervalMs, signal);
    } while (Date.now() < end);
    return { ok: failures === 0, last };
  }

  // --- rollback ---------------------------------------------------------------

  async rollback(who: Who, progress: ProgressFn, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const { pool, docker, config } = this.s;
    const t0 = performance.now();
    const from = await this.liveColor(signal);
    const to = otherColor(from);
    const toName = colorContainerName(this.app.name, to);
    const prev = await docker.inspect(toName, signal);
    if (!prev) {
      throw new OperationError(`there is no ${toName} container to roll back to`, 'Deploy the version you want instead (deploy_blue_green with a ref).');
    }
    const op = await this.begin('rollback', who, { fromColor: from, toColor: to, container: toName });
    const rec = { kind: 'rollback' as const, fromColor: from, toColor: to, image: prev.image, version: prev.labels[LABEL_VERSION] ?? null, commit: prev.labels[LABEL_COMMIT] ?? null, who: who.caller };
    try {
      let started = false;
      if (prev.state !== 'running') {
        progress(`starting ${toName} (it was ${prev.state})`);
        await op.journal.phase('start');
        await docker.start(toName, signal);
        started = true;
      }
      await op.journal.phase('health');
      const gate: HealthGate = started ? this.gate() : { attempts: 3, intervalMs: 300, successThreshold: 1, timeoutMs: config.deploy.healthTimeoutMs };
      const h = await waitHealthy(pool, this.colorTarget(to), gate, { signal });
      if (!h.ok) {
        const msg = `${toName} is not healthy (${describeProbe(h.last)}); traffic stays on ${from}`;
        await this.end(op, { ...rec, outcome: 'failed', message: msg }, 'failed');
        throw new OperationError(msg, `Inspect ${toName} with logs; deploy a known good ref instead.`, { operationId: op.id, liveColor: from, lastLogLines: await this.lastLogs(toName) });
      }
      await op.journal.phase('switch');
      progress(`switching nginx to ${to}`);
      await switchUpstream(pool, config, to, op.id, { signal });
      await op.journal.phase('verify');
      const v = await this.verifyFront(config.deploy.rollbackVerifySeconds, 250, progress, signal);
      if (!v.ok) {
        await switchUpstream(pool, config, from, op.id).catch(() => {});
        const msg = `the front failed after switching to ${to} (${describeProbe(v.last)}); switched back to ${from}`;
        await this.end(op, { ...rec, outcome: 'failed', message: msg }, 'rolled_back');
        throw new OperationError(msg, 'Check nginx and both containers with status and health.', { operationId: op.id, liveColor: from });
      }
      await this.end(op, { ...rec, outcome: 'succeeded', message: null }, 'done');
      const ms = Math.round(performance.now() - t0);
      progress(`rolled back to ${to} (${prev.labels[LABEL_VERSION] ?? prev.image}) in ${ms} ms`);
      return { operationId: op.id, fromColor: from, toColor: to, liveColor: to, image: prev.image, version: rec.version, startedContainer: started, durationMs: ms };
    } catch (e) {
      if (!(e instanceof OperationError)) await this.end(op, { ...rec, outcome: 'failed', message: (e as Error).message }, 'failed').catch(() => {});
      throw e;
    }
  }

  // --- restart / stop -----------------------------------------------------------

  async restart(who: Who, progress: ProgressFn, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const live = await this.liveColor(signal);
    const name = colorContainerName(this.app.name, live);
    const op = await this.begin('restart', who, { container: name });
    const rec = { kind: 'restart' as const, fromColor: live, toColor: live, image: null, version: null, commit: null, who: who.caller };
    try {
      progress(`restarting ${name}`);
      const t0 = performance.now();
      await this.s.docker.restart(name, 10, signal);
      const h = await waitHealthy(this.s.pool, this.colorTarget(live), this.gate(), { signal, onAttempt: (n, p) => progress(`health ${n}: ${p.ok ? 'ok' : describeProbe(p)}`) });
      const ms = Math.round(performance.now() - t0);
      if (!h.ok) {
        const msg = `${name} restarted but is not healthy (${describeProbe(h.last)})`;
        await this.end(op, { ...rec, outcome: 'failed', message: msg }, 'failed');
        throw new OperationError(msg, 'Roll back to the other color (rollback) if it is present, and read logs.', { container: name, lastLogLines: await this.lastLogs(name) });
      }
      await this.end(op, { ...rec, outcome: 'succeeded', message: null }, 'done');
      return { operationId: op.id, container: name, healthy: true, durationMs: ms };
    } catch (e) {
      if (!(e instanceof OperationError)) await this.end(op, { ...rec, outcome: 'failed', message: (e as Error).message }, 'failed').catch(() => {});
      throw e;
    }
  }

  async stop(container: string, confirm: string, force: boolean, who: Who, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const allowed = [colorContainerName(this.app.name, 'blue'), colorContainerName(this.app.name, 'green'), ...this.app.watch];
    if (!allowed.includes(container)) throw new OperationError(`container must be one of: ${allowed.join(', ')}`, 'status lists the containers.');
    if (confirm !== container) throw new OperationError(`confirm must repeat the container name exactly ("${container}")`, 'Stopping is destructive: repeat the name in confirm to proceed.');
    const live = await this.liveColor(signal).catch(() => undefined);
    const isLive = live !== undefined && container === colorContainerName(this.app.name, live);
    if (isLive && !force) {
      throw new OperationError(
        `${container} is the live color: stopping it makes every request through nginx fail`,
        'Roll back or deploy first so the other color is live; or pass force: true if you really want the outage.',
      );
    }
    const op = await this.begin('stop', who, { container });
    try {
      await this.s.docker.stop(container, 10, signal);
      const info = await this.s.docker.inspect(container, signal);
      await this.end(op, { kind: 'stop', fromColor: null, toColor: null, image: info?.image ?? null, version: null, commit: null, who: who.caller, outcome: 'succeeded', message: `stopped ${container}${isLive ? ' (live: traffic fails now)' : ''}` }, 'done');
      return { operationId: op.id, container, state: info?.state ?? 'unknown', wasLive: isLive };
    } catch (e) {
      await this.end(op, { kind: 'stop', fromColor: null, toColor: null, image: null, version: null, commit: null, who: who.caller, outcome: 'failed', message: (e as Error).message }, 'failed').catch(() => {});
      throw e;
    }
  }

  // --- OAuth reset ------------------------------------------------------------

  /**
   * The old "rebuild-all", without losing anything: the OAuth keys dir and
   * the DB are MOVED into a timestamped backup beside them (same filesystem:
   * a rename, instant, nothing deleted), then the running app containers are
   * recreated so the app starts with fresh keys and DB.
   */
  async resetOauth(dryRun: boolean, who: Who, progress: ProgressFn, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const { pool, docker } = this.s;
    const app = this.app;
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
    const backupDir = posix.join(app.vaultPath, 'backups', `oauth-reset-${stamp}`);
    const colors = (['blue', 'green'] as Color[]).map((c) => ({ color: c, name: colorContainerName(app.name, c) }));
    const live = await this.liveColor(signal);
    const plan = [
      `lock`,
      `sudo mkdir -p ${backupDir}`,
      `sudo mv -- ${app.oauthKeysDir} ${backupDir}/ (if present)`,
      `sudo mv -- ${app.dbPath} ${backupDir}/ (if present)`,
      `recreate the running app containers (live ${colorContainerName(app.name, live)} first) from their current image and config`,
      `wait until healthy`,
    ];
    if (dryRun) return { dryRun: true, backupDir, steps: plan, message: 'nothing was changed' };

    const op = await this.begin('reset_oauth', who, { backupDir });
    const rec = { kind: 'reset_oauth' as const, fromColor: live, toColor: live, image: null, version: null, commit: null, who: who.caller };
    try {
      await op.journal.phase('backup');
      progress(`moving OAuth keys and DB to ${backupDir}`);
      // Fixed script; paths come from the config and are passed as arguments.
      const moved = await pool.run(
        ['/bin/sh', '-c', 'set -e; mkdir -p -- "$1"; for p in "$2" "$3"; do if [ -e "$p" ]; then mv -- "$p" "$1"/; echo "$p"; fi; done', 'sh', backupDir, app.oauthKeysDir, app.dbPath],
        { sudo: true, timeoutMs: 60_000, signal },
      );
      const movedPaths = moved.stdout.split('\n').filter(Boolean);
      await op.journal.phase('recreate', { moved: movedPaths.join(',') });
      const order = [...colors.filter((c) => c.color === live), ...colors.filter((c) => c.color !== live)];
      const recreated: string[] = [];
      for (const c of order) {
        const info = await docker.inspect(c.name, signal);
        if (!info || info.state !== 'running') continue;
        const spec = await docker.containerSpec(c.name, signal);
        if (!spec) continue;
        progress(`recreating ${c.name}`);
        await docker.remove(c.name, { force: true, signal });
        await docker.create({ ...spec, aliases: [c.name], publish: { hostIp: '127.0.0.1', hostPort: app.colorPorts[c.color], containerPort: app.containerPort } }, signal);
        await docker.start(c.name, signal);
        const h = await waitHealthy(pool, this.colorTarget(c.color), this.gate(), { signal });
        if (!h.ok) {
          const msg = `${c.name} did not become healthy after the reset (${describeProbe(h.last)}); the old keys and DB are in ${backupDir}`;
          await this.end(op, { ...rec, outcome: 'failed', message: msg }, 'failed');
          throw new OperationError(msg, `Restore with: sudo mv ${backupDir}/* ${app.vaultPath}/ and restart; read logs of ${c.name}.`, { backupDir, movedPaths, lastLogLines: await this.lastLogs(c.name) });
        }
        recreated.push(c.name);
      }
      await this.end(op, { ...rec, outcome: 'succeeded', message: `backup in ${backupDir}` }, 'done');
      return {
        operationId: op.id,
        backupDir,
        movedPaths,
        recreated,
        restoreHint: `to undo: stop the app, sudo mv ${backupDir}/* ${app.vaultPath}/ (replacing the new ones), start it again`,
      };
    } catch (e) {
      if (!(e instanceof OperationError)) await this.end(op, { ...rec, outcome: 'failed', message: (e as Error).message }, 'failed').catch(() => {});
      throw e;
    }
  }

  // --- recovery and lock release ---------------------------------------------

  /**
   * Finishes or undoes an operation whose server died mid-way (the journal
   * says where it stopped; the lock still names it). Traffic decides: if the
   * upstream points at a healthy color, that stays; otherwise back to the
   * color the operation started from.
   */
  async recover(who: Who, progress: ProgressFn, isRunningHere: (operationId: string) => boolean, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const { pool, config, docker } = this.s;
    const stateDir = config.state.dir;
    const [lock, journal] = await Promise.all([readLock(pool, stateDir), readJournal(pool, stateDir)]);
    if (lock && isRunningHere(lock.operationId)) {
      throw new OperationError(`${lock.operation} ${lock.operationId} is still running in this server`, 'Wait for it; job_status shows its progress.');
    }
    if (lock && lock.host === hostname() && lock.pid !== process.pid && pidAlive(lock.pid)) {
      throw new OperationError(`${lock.operation} ${lock.operationId} is held by a live process (pid ${lock.pid}) on this host`, 'Wait for it to finish.');
    }
    const interrupted = journal && !journal.finished ? journal : undefined;
    if (!lock && !interrupted) return { recovered: false, message: 'nothing to recover: no lock held and the last operation finished' };

    const actions: string[] = [];
    const up = await readUpstream(pool, config);
    let live = up.info.color;
    const from = (interrupted?.detail.fromColor as Color | undefined) ?? undefined;
    const to = (interrupted?.detail.toColor as Color | undefined) ?? undefined;
    if (live) {
      const h = await waitHealthy(pool, this.colorTarget(live), { attempts: 3, intervalMs: 500, successThreshold: 1, timeoutMs: config.deploy.healthTimeoutMs }, { signal });
      if (!h.ok && from && live !== from) {
        progress(`live color ${live} is unhealthy: switching back to ${from}`);
        await switchUpstream(pool, config, from, interrupted?.operationId ?? 'recover');
        actions.push(`switched traffic back to ${from} (${live} was unhealthy)`);
        live = from;
      } else if (h.ok) {
        actions.push(`live color ${live} is healthy; traffic left there`);
      } else {
        actions.push(`WARNING: live color ${live} is unhealthy and there is no other color to go back to`);
      }
    }
    // A new color started but never switched to: stop it (kept for inspection).
    if (interrupted?.kind === 'deploy' && to && live !== to) {
      const name = colorContainerName(this.app.name, to);
      const info = await docker.inspect(name, signal);
      if (info?.state === 'running' && info.labels[LABEL_DEPLOYMENT] === interrupted.operationId) {
        await docker.stop(name, 5, signal).catch(() => {});
        actions.push(`stopped ${name}, started by the interrupted deploy but never switched to`);
      }
    }
    const opId = interrupted?.operationId ?? lock?.operationId ?? 'unknown';
    if (interrupted) {
      const j = new Journal(pool, stateDir, { operationId: interrupted.operationId, kind: interrupted.kind, detail: interrupted.detail });
      await j.finish('recovered', { recoveredBy: who.caller, phaseWhenCut: interrupted.phase });
      await appendHistory(pool, stateDir, {
        id: interrupted.operationId,
        kind: interrupted.kind,
        fromColor: from ?? null,
        toColor: to ?? null,
        image: interrupted.detail.image ?? null,
        version: interrupted.detail.version ?? null,
        commit: interrupted.detail.commit ?? null,
        who: who.caller,
        startedAt: interrupted.startedAt,
        endedAt: now(),
        outcome: 'recovered',
        message: `cut off at ${interrupted.phase}; ${actions.join('; ')}`,
      });
      const startedMs = Date.parse(interrupted.startedAt);
      this.finishedEvent(
        { id: interrupted.operationId, started: interrupted.startedAt, who: who.caller },
        {
          kind: interrupted.kind,
          fromColor: from ?? null,
          toColor: to ?? null,
          image: interrupted.detail.image ?? null,
          version: interrupted.detail.version ?? null,
          commit: interrupted.detail.commit ?? null,
          outcome: 'recovered',
          message: `cut off at ${interrupted.phase}; ${actions.join('; ')}`,
        },
        Number.isFinite(startedMs) ? Date.now() - startedMs : 0,
      );
    }
    if (lock) {
      await releaseLock(pool, stateDir, lock.operationId);
      actions.push(`released the lock of ${lock.operation} ${lock.operationId}`);
    }
    progress(actions.join('; '));
    return { recovered: true, operationId: opId, phaseWhenCut: interrupted?.phase ?? null, liveColor: live ?? null, actions };
  }

  /** Explicit, confirmed release of a lock whose holder is gone. */
  async releaseLock(confirm: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const lock = await readLock(this.s.pool, this.s.config.state.dir, signal);
    if (!lock) return { released: false, message: 'the lock is free' };
    if (confirm !== lock.operationId) {
      throw new OperationError(`confirm must be the lock's operation id ("${lock.operationId}", held by ${lock.holder} since ${lock.since})`, 'Prefer recover, which also puts traffic right; release only when you know the holder is gone.');
    }
    await releaseLock(this.s.pool, this.s.config.state.dir, null);
    return { released: true, operationId: lock.operationId, holder: lock.holder, since: lock.since };
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function describeProbe(p: HttpProbe | undefined): string {
  if (!p) return 'no probe';
  if (p.status !== undefined) return `HTTP ${p.status}${p.body ? `: ${p.body.slice(0, 80)}` : ''}`;
  return p.error ?? 'no answer';
}
