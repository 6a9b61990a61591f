/**
 * reset_oauth (the old "rebuild-all", without losing anything): the OAuth
 * keys dir and the DB are MOVED into a timestamped backup beside them (same
 * filesystem: a rename, instant, nothing deleted); then the idle color is
 * recreated from the live one's spec, starts with fresh keys and DB, is
 * gated and switched to. The live color keeps serving until the switch.
 */
import type { Services } from '../../services.js';
import { backupDir, mkdirLock } from '../commands.js';
import { runOperation, type OperationOptions } from '../operation.js';
import { commandStep, noteStep, type PlanStep } from '../plan.js';
import type { Color } from '../../domain/index.js';
import type { CutoverPhase } from './cutover.js';
import { backupCommands, moveLiveIntoBackup, newBackupName } from './oauth-files.js';
import { planRecreate, recreatedNames, recreateIdle, recreatePlanSteps } from './recreate.js';
import { liveColor } from './shared.js';

export type ResetPhase = 'locked' | 'backup' | CutoverPhase;

export interface ResetPlan {
  dryRun: true;
  backupDir: string;
  steps: PlanStep[];
  message: string;
}

export interface ResetResult {
  operationId: string;
  backupName: string;
  backupDir: string;
  movedPaths: string[];
  /** The containers started with the fresh keys and DB (the new live one first). */
  recreated: string[];
  liveColor: Color;
  restoreHint: string;
}

export async function planReset(svc: Services, signal?: AbortSignal): Promise<ResetPlan> {
  const name = newBackupName('reset');
  const b = backupCommands(svc, name);
  const live = await liveColor(svc, signal);
  const steps: PlanStep[] = [
    commandStep('lock', mkdirLock(svc.config.state.dir)),
    commandStep('backup', b.mkdir),
    ...b.moves.map((m) => commandStep('backup', m.move, `if ${m.path} exists`)),
    ...recreatePlanSteps(svc, await planRecreate(svc, live, null, signal)),
    noteStep('release', 'history line appended, lock released'),
  ];
  return { dryRun: true, backupDir: backupDir(svc.config.app.vaultPath, name), steps, message: 'nothing was changed' };
}

export async function resetOauth(svc: Services, o: Omit<OperationOptions, 'kind'>): Promise<ResetResult> {
  const live = await liveColor(svc, o.signal);
  const name = newBackupName('reset');
  const dir = backupDir(svc.config.app.vaultPath, name);
  return runOperation<ResetPhase, ResetResult>(svc, { ...o, kind: 'reset_oauth', detail: { fromColor: live, backupDir: dir } }, async (op) => {
    const p = await planRecreate(svc, live, op.id, op.signal);
    Object.assign(op.facts, { fromColor: p.from, toColor: p.to, image: p.live.image });
    await op.phase('backup', { toColor: p.to });
    op.progress(`moving OAuth keys and DB to ${dir}`);
    const movedPaths = await moveLiveIntoBackup(svc, name, op.signal);
    await op.note({ moved: movedPaths.join(',') });
    await recreateIdle(op, p, `The old keys and DB are in ${dir}: restore_oauth puts them back.`);
    op.message = `backup in ${dir}`;
    return {
      operationId: op.id,
      backupName: name,
      backupDir: dir,
      movedPaths,
      recreated: recreatedNames(p),
      liveColor: p.to,
      restoreHint: `restore_oauth with backup "${name}" puts the old keys and DB back (with zero downtime)`,
    };
  });
}
