/**
 * The OAuth keys dir and the DB in the vault, and their backups under
 * <vault>/backups/<name>: what reset moves away, restore puts back, status
 * lists. Backups are never deleted by us.
 */
import { posix } from 'node:path';
import type { Services } from '../../services.js';
import { backupDir, backupsRoot, listDir, makeDir, moveInto, OAUTH_BACKUP_NAME_RE, pathExists, type RemoteCommand } from '../commands.js';
import { runCommand } from './shared.js';

/** `oauth-<kind>-<UTC stamp>`: sorts by time. */
export function newBackupName(kind: 'reset' | 'restore', at = new Date()): string {
  return `oauth-${kind}-${at.toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`;
}

/** The live paths a backup holds, by the name they have inside it. */
export function oauthPaths(svc: Services): Array<{ live: string; inBackup: string }> {
  const app = svc.config.app;
  return [app.oauthKeysDir, app.dbPath].map((live) => ({ live, inBackup: posix.basename(live) }));
}

/** The commands that move the live keys and DB into a new backup dir (each move only if the path exists). */
export function backupCommands(svc: Services, name: string): { mkdir: RemoteCommand; moves: Array<{ exists: RemoteCommand; move: RemoteCommand; path: string }> } {
  const dir = backupDir(svc.config.app.vaultPath, name);
  const root = svc.config.sudo.programs;
  return { mkdir: makeDir(root, dir), moves: oauthPaths(svc).map((p) => ({ path: p.live, exists: pathExists(root, p.live), move: moveInto(root, p.live, dir) })) };
}

/** Moves what is live now into backup `name`; returns the paths moved. */
export async function moveLiveIntoBackup(svc: Services, name: string, signal?: AbortSignal): Promise<string[]> {
  const b = backupCommands(svc, name);
  await runCommand(svc, b.mkdir, { signal });
  const moved: string[] = [];
  for (const m of b.moves) {
    if ((await runCommand(svc, m.exists, { signal, check: false })).code !== 0) continue;
    await runCommand(svc, m.move, { signal });
    moved.push(m.path);
  }
  return moved;
}

/** Backup names on the NAS, newest first (only names the backup regex accepts). */
export async function listBackups(svc: Services, signal?: AbortSignal): Promise<string[]> {
  const root = backupsRoot(svc.config.app.vaultPath);
  const programs = svc.config.sudo.programs;
  let r = await runCommand(svc, listDir(programs, root), { signal, check: false });
  if (r.code !== 0 && /permission denied/i.test(r.stderr)) r = await runCommand(svc, listDir(programs, root, true), { signal, check: false });
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((n) => OAUTH_BACKUP_NAME_RE.test(n))
    .sort((a, b) => stampOf(b).localeCompare(stampOf(a)));
}

/** The time part of a backup name, for ordering reset and restore backups together. */
const stampOf = (name: string) => name.replace(/^oauth-(?:reset|restore)-/, '');
