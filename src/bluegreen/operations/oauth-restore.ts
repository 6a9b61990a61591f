/**
 * restore_oauth: puts a reset's (or an earlier restore's) backup of the
 * OAuth keys and DB back, byte for byte (`cp -a`: the backup itself stays
 * as it is). What is live now is first moved into its own backup. Then the
 * same zero-downtime recreate as reset: the idle color starts on the
 * restored files, is gated and switched to.
 */
import { posix } from 'node:path';
import type { Services } from '../../services.js';
import { assertBackupName, backupDir, copyExact, mkdirLock, pathExists, type RemoteCommand } from '../commands.js';
import { OperationError, runOperation, type OperationOptions } from '../operation.js';
import { commandStep, noteStep, type PlanStep } from '../plan.js';
import type { Color } from '../../domain/index.js';
import type { CutoverPhase } from './cutover.js';
import { backupCommands, listBackups, moveLiveIntoBackup, newBackupName, oauthPaths } from './oauth-files.js';
import { planRecreate, recreatedNames, recreateIdle, recreatePlanSteps } from './recreate.js';
import { liveColor, runCommand } from './shared.js';

export type RestorePhase = 'locked' | 'backup' | 'restore' | CutoverPhase;

export interface RestoreRequest {
  /** The backup to put back; the newest when not given. */
  backup?: string;
}

export interface RestorePlan {
  dryRun: true;
  backup: string;
  backupDir: string;
  steps: PlanStep[];
  message: string;
}

export interface RestoreResult {
  operationId: string;
  restoredFrom: string;
  restoredPaths: string[];
  /** Where what was live before the restore went. */
  previousBackup: string;
  previousBackupDir: string;
  recreated: string[];
  liveColor: Color;
}

/** The backup to restore: the one asked for (must exist), or the newest reset backup. */
async function chooseBackup(svc: Services, req: RestoreRequest, signal?: AbortSignal): Promise<string> {
  const all = await listBackups(svc, signal);
  if (req.backup !== undefined) {
    assertBackupName(req.backup);
    if (!all.includes(req.backup)) throw new OperationError(`no backup ${req.backup} on the NAS`, `status lists the backups${all.length ? ` (newest: ${all[0]})` : ''}.`);
    return req.backup;
  }
  // The newest backup a reset made: restoring a restore's own safety copy must be asked for by name.
  const newest = all.find((n) => n.startsWith('oauth-reset-'));
  if (!newest) throw new OperationError('there is no OAuth backup to restore', 'reset_oauth makes one; status lists them.');
  return newest;
}

/** The copy commands: each item of the backup that exists, back to its live path. */
function copyCommands(svc: Services, name: string): Array<{ exists: RemoteCommand; copy: RemoteCommand; live: string }> {
  const dir = backupDir(svc.config.app.vaultPath, name);
  const root = svc.config.sudo.programs;
  return oauthPaths(svc).map((p) => ({ live: p.live, exists: pathExists(root, posix.join(dir, p.inBackup)), copy: copyExact(root, posix.join(dir, p.inBackup), p.live) }));
}

export async function planRestore(svc: Services, req: RestoreRequest, signal?: AbortSignal): Promise<RestorePlan> {
  const name = await chooseBackup(svc, req, signal);
  const safety = newBackupName('restore');
  const b = backupCommands(svc, safety);
  const live = await liveColor(svc, signal);
  const steps: PlanStep[] = [
    commandStep('lock', mkdirLock(svc.config.state.dir)),
    commandStep('backup', b.mkdir, 'what is live now is kept first'),
    ...b.moves.map((m) => commandStep('backup', m.move, `if ${m.path} exists`)),
    ...copyCommands(svc, name).map((c) => commandStep('restore', c.copy, 'if it is in the backup')),
    ...recreatePlanSteps(svc, await planRecreate(svc, live, null, signal)),
    noteStep('release', 'history line appended, lock released'),
  ];
  return { dryRun: true, backup: name, backupDir: backupDir(svc.config.app.vaultPath, name), steps, message: 'nothing was changed' };
}

export async function restoreOauth(svc: Services, req: RestoreRequest, o: Omit<OperationOptions, 'kind'>): Promise<RestoreResult> {
  const name = await chooseBackup(svc, req, o.signal);
  const live = await liveColor(svc, o.signal);
  const safety = newBackupName('restore');
  const from = backupDir(svc.config.app.vaultPath, name);
  return runOperation<RestorePhase, RestoreResult>(svc, { ...o, kind: 'restore_oauth', detail: { fromColor: live, restoreFrom: from } }, async (op) => {
    const p = await planRecreate(svc, live, op.id, op.signal);
    Object.assign(op.facts, { fromColor: p.from, toColor: p.to, image: p.live.image });
    await op.phase('backup', { toColor: p.to, backupDir: backupDir(svc.config.app.vaultPath, safety) });
    op.progress(`keeping what is live now in ${safety}`);
    await moveLiveIntoBackup(svc, safety, op.signal);
    await op.phase('restore');
    const restoredPaths: string[] = [];
    for (const c of copyCommands(svc, name)) {
      if ((await runCommand(svc, c.exists, { signal: op.signal, check: false })).code !== 0) continue;
      // cp -a onto an existing directory would copy INTO it: the live path must be gone (moved above).
      if ((await runCommand(svc, pathExists(svc.config.sudo.programs, c.live), { signal: op.signal, check: false })).code === 0) {
        throw new OperationError(`${c.live} is still there after it was moved to ${safety}; nothing was copied over it`, `Check ${c.live} on the NAS; traffic is untouched.`);
      }
      op.progress(`restoring ${c.live} from ${name}`);
      await runCommand(svc, c.copy, { signal: op.signal });
      restoredPaths.push(c.live);
    }
    await recreateIdle(op, p, `What was live before is in ${safety}.`);
    op.message = `restored ${name}; previous state in ${safety}`;
    return {
      operationId: op.id,
      restoredFrom: name,
      restoredPaths,
      previousBackup: safety,
      previousBackupDir: backupDir(svc.config.app.vaultPath, safety),
      recreated: recreatedNames(p),
      liveColor: p.to,
    };
  });
}
