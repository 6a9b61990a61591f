/**
 * The zero-downtime sequence every traffic-moving operation shares:
 *
 *   idle color (recreated from a spec, or the existing container) → health
 *   gate → switch nginx → verify through the front → retire the old color
 *
 * Traffic only moves to a color that passed its gate, and moves back by
 * itself when verification fails or anything breaks after the switch.
 */
import type { ContainerSpec } from '../../docker/index.js';
import { nginxReload, nginxTest, showCommand } from '../commands.js';
import type { Services } from '../../services.js';
import { type Color, colorContainerName, LABEL_APP, LABEL_COLOR } from '../../domain/index.js';
import { waitHealthy } from '../health-gate.js';
import { armNginx, switchUpstream, waitOldWorkersGone, type ArmedNginx, type SwitchResult } from '../nginx.js';

/** How long a confirming verification waits for nginx's old workers to answer what they had accepted. */
const DRAIN_MAX_MS = 2_000;
import { LockLostError, type OperationContext } from '../operation.js';
import { noteStep, type PlanStep } from '../plan.js';
import type { HealthGate } from '../types.js';
import { confirmFront, describeProbe, verifyFront } from './shared.js';

/** The operation that created a container (recover stops an idle color its interrupted operation started). */
export const LABEL_OPERATION = 'loop-ops.operation';

export type CutoverPhase = 'start' | 'health' | 'switch' | 'verify' | 'retire';

export interface Cutover {
  from: Color;
  to: Color;
  /** Recreate the idle color from this spec, or use the container that is there (rollback). */
  prepare: { recreate: ContainerSpec } | { existing: true };
  gate: HealthGate;
  /**
   * Verification through the front: a window of probes, or (`confirm`) a
   * confirming probe that `to` answers, used only when the switch saw nginx's
   * old workers stop accepting (else the window). Confirming suits a color
   * that passed its gate and served before (rollback to the running color).
   */
  verify: { seconds: number; intervalMs: number; confirm?: boolean };
  /** nginx's test and reload, prepared by the caller when it began (else prepared here, before the health gate). */
  armed?: ArmedNginx;
  /**
   * The old color after a good switch: kept running (instant rollback),
   * stopped, or recycled: recreated from the new live spec so it runs the
   * same config (after a restart, an OAuth reset or restore a rollback must
   * not bring back the old state).
   */
  retire: 'running' | 'stopped' | 'recycle';
}

export interface CutoverResult {
  /** The idle container was (re)started by us. */
  startedContainer: boolean;
  timingsMs: Record<string, number>;
}

/** A cut-over that did not complete; traffic is on `liveColor`. */
export class CutoverFailed extends Error {
  constructor(
    readonly phase: CutoverPhase,
    message: string,
    readonly hint: string,
    readonly liveColor: Color,
    /** Traffic had moved and was moved back. */
    readonly switchedBack: boolean,
  ) {
    super(message);
    this.name = 'CutoverFailed';
  }
}

/**
 * The spec of a color's container, from a base (the live color's spec, or
 * the app defaults): same env, volumes, network; the color's own name,
 * alias, port and labels.
 */
export function colorSpec(svc: Services, base: ContainerSpec | undefined, to: Color, image: string, labels: Record<string, string> = {}): ContainerSpec {
  const app = svc.config.app;
  const name = colorContainerName(app.name, to);
  return {
    name,
    image,
    labels: { ...(base?.labels ?? {}), [LABEL_APP]: app.name, [LABEL_COLOR]: to, ...labels },
    env: { ...(base?.env ?? {}), COLOR: to },
    binds: base?.binds.length ? base.binds : [{ host: app.vaultPath, container: app.vaultMount }],
    network: app.network,
    aliases: [name],
    publish: { hostIp: '127.0.0.1', hostPort: app.colorPorts[to], containerPort: app.containerPort },
    restartPolicy: 'unless-stopped',
  };
}

/** The plan lines of a cut-over (dry runs). */
export function cutoverPlan(svc: Services, c: Cutover): PlanStep[] {
  const { app, nginx, deploy } = svc.config;
  const toName = colorContainerName(app.name, c.to);
  const fromName = colorContainerName(app.name, c.from);
  return [
    'recreate' in c.prepare
      ? noteStep(
          'start',
          `docker API: remove ${toName}, create it from image ${c.prepare.recreate.image} with ${fromName}'s env, volumes (${c.prepare.recreate.binds.map((b) => `${b.host}:${b.container}`).join(', ')}) and network ${c.prepare.recreate.network}, published 127.0.0.1:${app.colorPorts[c.to]}; start it`,
        )
      : noteStep('start', `docker API: start ${toName} if it is not running`),
    noteStep('health', `GET ${app.healthPath} on 127.0.0.1:${app.colorPorts[c.to]} up to ${c.gate.attempts}×${c.gate.intervalMs} ms (${c.gate.successThreshold} success needed)`),
    noteStep(
      'switch',
      `upstream ${nginx.upstreamFile} → 127.0.0.1:${app.colorPorts[c.to]} (temp file + rename); ${showCommand(nginxTest(nginx.testCommand, nginx.useSudo))}; ${showCommand(nginxReload(nginx.reloadCommand, nginx.useSudo))}`,
    ),
    noteStep(
      'verify',
      c.verify.confirm
        ? `GET ${app.healthPath} through the front (127.0.0.1:${app.frontPort}) until ${c.to} answers twice in a row, once nginx's old workers stopped accepting (else for ${c.verify.seconds} s); two failures in a row switch back to ${c.from}`
        : `GET ${app.healthPath} through the front (127.0.0.1:${app.frontPort}) for ${c.verify.seconds} s; two failures in a row switch back to ${c.from}`,
    ),
    noteStep(
      'retire',
      c.retire === 'stopped'
        ? `docker API: stop ${fromName}`
        : c.retire === 'recycle'
          ? `docker API: recreate ${fromName} from the same spec, health-gate it, leave it idle for rollback`
          : `${fromName} stays running for instant rollback (deploy.keepPrevious=${deploy.keepPrevious})`,
    ),
  ];
}

export async function cutover<P extends string>(op: OperationContext<P | CutoverPhase>, c: Cutover): Promise<CutoverResult> {
  const { svc, progress, signal } = op;
  const { pool, docker, config } = svc;
  const app = config.app;
  const toName = colorContainerName(app.name, c.to);
  const fromName = colorContainerName(app.name, c.from);
  const timings: Record<string, number> = {};
  const t = () => performance.now();
  let switched = false;
  let armed = c.armed;

  try {
    // 1. the idle color
    let t0 = t();
    let started = false;
    if ('recreate' in c.prepare) {
      await op.phase('start', { container: toName, image: c.prepare.recreate.image });
      progress(`starting ${toName} on 127.0.0.1:${app.colorPorts[c.to]}`);
      await docker.remove(toName, { force: true, signal });
      await docker.create(c.prepare.recreate, signal);
      await docker.start(toName, signal);
      started = true;
    } else {
      const info = await docker.inspect(toName, signal);
      if (info?.state !== 'running') {
        await op.phase('start', { container: toName });
        progress(`starting ${toName} (it was ${info?.state ?? 'missing'})`);
        await docker.start(toName, signal);
        started = true;
      }
    }
    timings.start = t() - t0;

    // 2. health gate (nginx's test and reload get ready meanwhile: sudo's password check is most of their cost)
    t0 = t();
    armed ??= armNginx(pool, config);
    await op.phase('health');
    const h = await waitHealthy(pool, { host: '127.0.0.1', port: app.colorPorts[c.to], path: app.healthPath }, c.gate, {
      signal,
      onAttempt: (n, p) => progress(`health ${n}/${c.gate.attempts}: ${p.ok ? 'ok' : (p.status ?? p.error ?? 'no answer')}`),
    });
    timings.health = t() - t0;
    if (!h.ok) {
      if (started) await docker.stop(toName, 5).catch(() => {});
      throw new CutoverFailed(
        'health',
        `${toName} did not become healthy after ${h.attempts} attempts (${describeProbe(h.last)}); traffic stayed on ${c.from}`,
        `Read the last log lines below or call logs with container ${toName}; fix and try again.${started ? ` ${toName} is stopped but kept for inspection.` : ''}`,
        c.from,
        false,
      );
    }

    // 3. switch
    t0 = t();
    let sw: SwitchResult;
    await op.phase('switch');
    progress(`switching nginx to ${c.to}`);
    try {
      sw = await switchUpstream(pool, config, c.to, op.id, { signal, armed });
    } catch (e) {
      throw new CutoverFailed(
        'switch',
        `nginx switch failed: ${(e as Error).message}`,
        (e as { hint?: string }).hint ?? `Traffic is still on ${c.from}; check the nginx config on the NAS.`,
        c.from,
        false,
      );
    }
    switched = true;
    timings.switch = t() - t0;

    // 4. verify through the front
    t0 = t();
    await op.phase('verify');
    // A confirming probe only when nginx's old workers were seen to stop accepting: from then on every
    // new connection is served by the new configuration, which names only c.to's port.
    // Requests the old workers had accepted before they stopped are still answered by c.from; the
    // confirmation also waits (≤ 2 s) until those workers exited, so that when it is reported done,
    // nothing is served by the old color any more (long-lived connections may outlast that: said).
    const confirming = c.verify.confirm && sw.cutoverMs !== undefined;
    const [v, drained] = confirming
      ? await Promise.all([confirmFront(svc, c.to, progress, signal), waitOldWorkersGone(pool, sw.nginxBefore, DRAIN_MAX_MS)])
      : [await verifyFront(svc, c.verify.seconds, c.verify.intervalMs, progress, signal), true];
    if (confirming && !drained) progress(`nginx's old workers still answer requests they accepted before the switch (long-lived connections?); ${c.from} keeps running`);
    timings.verify = t() - t0;
    if (!v.ok) {
      progress(`verification failed (${describeProbe(v.last)}): switching back to ${c.from}`);
      await switchUpstream(pool, config, c.from, op.id).catch((e: Error) => progress(`SWITCH BACK FAILED: ${e.message}`));
      throw new CutoverFailed(
        'verify',
        `the front failed verification after the switch (${describeProbe(v.last)}); switched back to ${c.from}`,
        `Traffic is on ${c.from} again. Inspect ${toName} with logs.`,
        c.from,
        true,
      );
    }

    // 5. retire the old color
    await op.phase('retire');
    t0 = t();
    if (c.retire === 'stopped') await docker.stop(fromName, 10).catch(() => {});
    if (c.retire === 'recycle' && 'recreate' in c.prepare) {
      const spec = colorSpec(svc, c.prepare.recreate, c.from, c.prepare.recreate.image, {});
      progress(`recycling ${fromName} with the same spec (idle, for rollback)`);
      await docker.remove(fromName, { force: true, signal });
      await docker.create(spec, signal);
      await docker.start(fromName, signal);
      const r = await waitHealthy(pool, { host: '127.0.0.1', port: app.colorPorts[c.from], path: app.healthPath }, c.gate, { signal });
      if (!r.ok) {
        // Traffic is fine on the new color; only the idle one is not. Say so, keep it for inspection.
        await docker.stop(fromName, 5).catch(() => {});
        progress(`warning: the recycled ${fromName} did not become healthy (${describeProbe(r.last)}); it is stopped`);
      }
    }
    timings.retire = t() - t0;
    return { startedContainer: started, timingsMs: timings };
  } catch (e) {
    armed?.cancel();
    if (e instanceof CutoverFailed || !switched) throw e;
    // Whoever took our lock over (recover) decides about traffic now.
    if (e instanceof LockLostError || signal.reason instanceof LockLostError) throw e;
    // Unexpected after the switch (SSH dropped, Docker refused…): put traffic back where it was safe.
    await switchUpstream(pool, config, c.from, op.id).catch(() => {});
    throw e;
  }
}
