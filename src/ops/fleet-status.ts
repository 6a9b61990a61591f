/**
 * `status` with neither target nor app: one row per app of every target, all
 * read at once (each app's own coalesced read; a few ms per target). A target
 * that cannot be reached is a row that says so, never a failed call: the
 * operator at 3 a.m. still sees the others.
 */
import { swarmContextOf, swarmStatus } from '../swarm/index.js';
import type { Fleet, AppScope } from '../services.js';
import { readRecreateStatus } from './recreate-status.js';
import { readStatus } from './status.js';

export interface AppRow {
  target: string;
  app: string;
  strategy: string;
  /** blue-green: the live color's container; recreate: the app's container. */
  serving: string | null;
  version: string | null;
  state: string | null;
  health: string | null;
  lock: { held: boolean; operation: string | null; operationId: string | null };
  /** An operation that started and did not finish: `<kind> <id> at <phase>`. */
  interrupted: string | null;
  /** The newest history record: `<kind> <outcome> at <time>`. */
  lastOperation: string | null;
  warnings: string[];
  /** Why this app could not be read (target unreachable, …); the other fields are then null. */
  error: string | null;
  /** How old the row's read was when returned (ms): more than a few only when served from the status snapshot; null for swarm apps (always read) and errors. */
  ageMs: number | null;
}

export interface FleetStatus {
  apps: AppRow[];
  checkedAt: string;
}

export async function readFleetStatus(fleet: Pick<Fleet, 'scopes'>, signal?: AbortSignal): Promise<FleetStatus> {
  const apps = await Promise.all(fleet.scopes.map((s) => rowOf(s, signal).catch((e: Error) => errorRow(s, e))));
  return { apps, checkedAt: new Date().toISOString() };
}

/** What every strategy's status has in common: the lock, an interrupted operation, the history, warnings. */
interface CommonStatus {
  lock: { held: boolean; operation: string | null; operationId: string | null };
  interruptedOperation: { kind: string; operationId: string; phase: string } | null;
  recentDeployments: Array<{ kind: string; outcome: string; startedAt: string; endedAt: string | null }>;
  warnings: string[];
}

/** A row from what serves (each strategy says it its way) and the common part. */
function row(s: AppScope, serving: Pick<AppRow, 'serving' | 'version' | 'state' | 'health'>, st: CommonStatus & { ageMs?: number }): AppRow {
  const last = st.recentDeployments[0];
  const op = st.interruptedOperation;
  return {
    target: s.target,
    app: s.app,
    strategy: s.strategy,
    ...serving,
    lock: { held: st.lock.held, operation: st.lock.operation, operationId: st.lock.operationId },
    interrupted: op ? `${op.kind} ${op.operationId} at ${op.phase}` : null,
    lastOperation: last ? `${last.kind} ${last.outcome} at ${last.endedAt ?? last.startedAt}` : null,
    warnings: st.warnings,
    error: null,
    ageMs: st.ageMs ?? null,
  };
}

async function rowOf(s: AppScope, signal?: AbortSignal): Promise<AppRow> {
  if (s.strategy === 'blue-green') {
    const st = await readStatus(s.services, { historyLimit: 1, signal });
    const live = st.liveColor ? st.colors[st.liveColor] : null;
    return row(s, { serving: live?.name ?? null, version: live?.version ?? null, state: live?.state ?? null, health: live?.health ?? null }, st);
  }
  if (s.strategy === 'swarm-service') {
    const st = await swarmStatus(swarmContextOf(s.services), { historyLimit: 1, signal });
    const r = st.replicas;
    return row(
      s,
      {
        serving: st.exists ? `service ${st.service} (${r.running}/${r.desired ?? '?'} running)` : null,
        version: st.live.version,
        state: st.update?.inProgress ? `updating (${st.update.state})` : r.running > 0 ? 'running' : null,
        health: r.running > 0 ? (r.healthy === r.running ? 'healthy' : `${r.healthy}/${r.running} healthy`) : null,
      },
      st,
    );
  }
  const st = await readRecreateStatus(s.services, { historyLimit: 1, signal });
  const c = st.container;
  return row(s, { serving: c?.name ?? null, version: c?.version ?? null, state: c?.state ?? null, health: c?.health ?? null }, st);
}

function errorRow(s: AppScope, e: Error): AppRow {
  return {
    target: s.target,
    app: s.app,
    strategy: s.strategy,
    serving: null,
    version: null,
    state: null,
    health: null,
    lock: { held: false, operation: null, operationId: null },
    interrupted: null,
    lastOperation: null,
    warnings: [],
    error: e.message.split('\n')[0]!.slice(0, 300),
    ageMs: null,
  };
}

/** One line per app, grouped by target. */
export function fleetStatusText(f: FleetStatus): string {
  const out: string[] = [];
  let target = '';
  for (const r of f.apps) {
    if (r.target !== target) {
      target = r.target;
      out.push(`${target}:`);
    }
    if (r.error) {
      out.push(`  ${r.app} (${r.strategy}): UNREACHABLE: ${r.error}`);
      continue;
    }
    const serving = r.serving ? `${r.serving} ${r.state ?? '?'}${r.health && r.health !== 'none' ? `/${r.health}` : ''}${r.version ? ` v${r.version}` : ''}` : 'nothing serving';
    const lock = r.lock.held ? `, lock HELD (${r.lock.operation ?? '?'} ${r.lock.operationId ?? ''})` : '';
    out.push(`  ${r.app} (${r.strategy}): ${serving}${lock}${r.interrupted ? `, INTERRUPTED ${r.interrupted}` : ''}${r.lastOperation ? `; last: ${r.lastOperation}` : ''}`);
    for (const w of r.warnings) out.push(`    warning: ${w}`);
  }
  out.push('Details of one app: status with target and app.');
  return out.join('\n');
}
