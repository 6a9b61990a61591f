import { describe, expect, it } from 'vitest';
import {
  assertBackupName,
  backupDir,
  copyExact,
  dockerBuild,
  gitCheckout,
  gitFetch,
  gitPull,
  listDir,
  makeDir,
  mkdirLock,
  moveInto,
  OAUTH_BACKUP_NAME_RE,
  pathExists,
  removeLockIf,
  replaceLockDetailsIf,
  showCommand,
} from '../../../src/bluegreen/commands.js';
import { newBackupName } from '../../../src/bluegreen/operations/oauth-files.js';
import { configSchema } from '../../../src/config.js';
import { commandStep, planText } from '../../../src/bluegreen/plan.js';
import { compensation, RECOVER_TABLE } from '../../../src/bluegreen/recover-table.js';

/** The default root programs (absolute paths, as sudoers matches them). */
const programs = configSchema.parse({ nas: { username: 'admin', privateKeyPath: '/k', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` } }).sudo.programs;

const vault = '/volume1/docker/loop-api/vault';

describe('remote commands as data', () => {
  it('git: plain argv, the checkout dir as one word, refs validated', () => {
    expect(gitFetch('/src dir').argv).toEqual(['git', '-C', '/src dir', 'fetch', '--prune', 'origin']);
    expect(gitPull('/src').argv).toEqual(['git', '-C', '/src', 'pull', '--ff-only']);
    expect(gitCheckout('/src', 'v1.2.3').argv).toEqual(['git', '-C', '/src', 'checkout', '--detach', 'v1.2.3']);
    for (const bad of ['-x', '--upload-pack=evil', 'a b', 'x;reboot', '']) expect(() => gitCheckout('/src', bad), bad).toThrow(/invalid git ref/);
    expect(gitPull('/src').sudo).toBe(false);
  });

  it('docker build: the same argv the engine runs', () => {
    const c = dockerBuild('/usr/bin/docker', true, { contextDir: '/src', tag: 'loop-api:20261206031500-abcdef0', labels: { 'loop-ops.version': '1.0.0' } }, 60_000);
    expect(c).toEqual({
      argv: ['/usr/bin/docker', 'build', '--tag', 'loop-api:20261206031500-abcdef0', '--label', 'loop-ops.version=1.0.0', '--', '/src'],
      sudo: true,
      timeoutMs: 60_000,
    });
  });

  it('OAuth files: every command is root (sudo) and plain argv, never a shell', () => {
    const dir = backupDir(vault, 'oauth-reset-20261206T031500');
    expect(dir).toBe(`${vault}/backups/oauth-reset-20261206T031500`);
    const cmds = [makeDir(programs, dir), pathExists(programs, `${vault}/loop.db`), moveInto(programs, `${vault}/loop.db`, dir), copyExact(programs, `${dir}/oauth-keys`, `${vault}/oauth-keys`)];
    for (const c of cmds) {
      expect(c.sudo).toBe(true);
      // Absolute programs: sudoers matches them exactly.
      expect(c.argv[0]).toMatch(/^\/(usr\/)?bin\/(mkdir|test|mv|cp)$/);
    }
    expect(moveInto(programs, `${vault}/loop.db`, `${dir}/`).argv).toEqual(['/bin/mv', '--', `${vault}/loop.db`, `${dir}/`]);
    expect(copyExact(programs, '/a', '/b').argv).toEqual(['/bin/cp', '-a', '--', '/a', '/b']);
    expect(listDir(programs, `${vault}/backups`).sudo).toBe(false);
    expect(listDir(programs, `${vault}/backups`, true).sudo).toBe(true);
  });

  it('one regex decides what a backup name is; what reset and restore create passes it', () => {
    const at = new Date('2026-12-06T03:15:00.123Z');
    expect(newBackupName('reset', at)).toBe('oauth-reset-20261206T031500');
    expect(newBackupName('restore', at)).toBe('oauth-restore-20261206T031500');
    for (const ok of [newBackupName('reset'), newBackupName('restore'), 'oauth-reset-20261121T101112Z']) expect(OAUTH_BACKUP_NAME_RE.test(ok), ok).toBe(true);
    for (const bad of ['../etc', 'oauth-reset-', 'oauth-reset-20261206T031500/../../x', 'x oauth-reset-20261206T031500', 'oauth-reset-2026']) {
      expect(OAUTH_BACKUP_NAME_RE.test(bad), bad).toBe(false);
      expect(() => assertBackupName(bad)).toThrow(/not a backup name/);
      expect(() => backupDir(vault, bad)).toThrow();
    }
  });

  it('lock scripts run as the SSH user; values only as positional arguments', () => {
    for (const c of [mkdirLock('/s'), removeLockIf('/s', 'x', 'n'), replaceLockDetailsIf('/s', 'x', 'y')]) {
      expect(c.sudo).toBe(false);
      expect(c.argv.slice(0, 2)).toEqual(['/bin/sh', '-c']);
      expect(c.argv[2]).not.toContain('/s');
    }
    expect(replaceLockDetailsIf('/s', "'; rm -rf / #", '$(reboot)').argv[2]).toBe(replaceLockDetailsIf('/s', 'a', 'b').argv[2]);
  });

  it('a plan step carries the exact argv, and reads as the command', () => {
    const c = moveInto(programs, '/v/loop db', '/v/backups/b');
    const step = commandStep('backup', c, 'if it exists');
    expect(step.argv).toEqual(c.argv);
    expect(step.sudo).toBe(true);
    expect(step.detail).toBe('sudo /bin/mv -- "/v/loop db" /v/backups/b/ (if it exists)');
    expect(showCommand(gitPull('/src'))).toBe('git -C /src pull --ff-only');
    expect(planText([step])).toBe(`1. backup: ${step.detail}`);
  });
});

describe('recover table', () => {
  it('deploy: before the idle color exists nothing to undo; after, stop it; around the switch, check traffic first', () => {
    for (const p of ['locked', 'fetch', 'pull', 'build']) expect(compensation('deploy', p)).toEqual([]);
    expect(compensation('deploy', 'start')).toEqual(['stop_unswitched_idle']);
    expect(compensation('deploy', 'health')).toEqual(['stop_unswitched_idle']);
    expect(compensation('deploy', 'switch')).toEqual(['check_traffic', 'stop_unswitched_idle']);
    expect(compensation('deploy', 'verify')).toEqual(['check_traffic', 'stop_unswitched_idle']);
    expect(compensation('deploy', 'retire')).toEqual(['check_traffic']);
  });
  it('rollback stops only an idle color it made itself (rollback to a version), before the switch; reset and restore also say where the files are', () => {
    // stop_unswitched_idle acts only on a container labelled with the interrupted operation's id: an
    // instant rollback's target carries its own deploy's label and is never stopped.
    expect(compensation('rollback', 'start')).toEqual(['stop_unswitched_idle']);
    expect(compensation('rollback', 'verify')).toEqual(['check_traffic', 'stop_unswitched_idle']);
    expect(compensation('rollback', 'retire')).toEqual(['check_traffic']);
    expect(compensation('deploy', 'prune')).toEqual(['check_traffic']);
    expect(compensation('reset_oauth', 'backup')).toEqual(['note_backup']);
    expect(compensation('restore_oauth', 'verify')).toEqual(['check_traffic', 'stop_unswitched_idle', 'note_backup']);
  });
  it('an unknown operation or phase checks everything', () => {
    expect(compensation('deploy', 'some-new-phase')).toEqual(['check_traffic', 'stop_unswitched_idle']);
    expect(compensation('swarm_deploy', 'x')).toEqual(['check_traffic', 'stop_unswitched_idle']);
  });
  it('every operation kind has a row, with the locked phase', () => {
    for (const kind of ['deploy', 'rollback', 'restart', 'stop', 'reset_oauth', 'restore_oauth', 'recover'] as const) expect(RECOVER_TABLE[kind].locked, kind).toBeDefined();
  });
});
