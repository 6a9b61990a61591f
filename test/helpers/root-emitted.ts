/**
 * Every root command the product can send for a config, built by the same
 * builders the code uses (src/ssh/root-commands.ts for the SSH layer,
 * src/bluegreen/commands.ts for the operations), with the `timeout` prefix
 * the pool adds: what the generated sudoers rules must allow. Each is tagged
 * with the id of the rule that should allow it.
 */
import type { Config } from '../../src/config.js';
import { backupDir, backupsRoot, copyExact, dockerBuild, listDir, makeDir, moveInto, nginxReload, nginxTest, pathExists, type RemoteCommand } from '../../src/bluegreen/commands.js';
import { newBackupName, oauthPaths } from '../../src/bluegreen/operations/oauth-files.js';
import type { Services } from '../../src/services.js';
import { BACKUP_KINDS, rootArgv, rootPolicyFor } from '../../src/ssh/root-commands.js';

export function emittedRootCommands(config: Config, timeoutSec: number, at: Date): Array<[string, string[]]> {
  const a = rootArgv(config);
  const policy = rootPolicyFor(config);
  const t = (argv: string[]) => policy.withTimeout(argv, timeoutSec);
  const rc = (c: RemoteCommand) => {
    if (!c.sudo) throw new Error(`not a root command: ${c.argv.join(' ')}`);
    return t(c.argv);
  };
  const p = config.sudo.programs;
  const live = oauthPaths({ config } as Services);
  const out: Array<[string, string[]]> = [
    ['docker-api', a.dockerApi()], // a stream: no time limit
    [
      'docker-build',
      rc(
        dockerBuild(config.docker.binary, true, {
          contextDir: config.app.checkoutDir,
          tag: 'loop-api:20261206-abc1234',
          labels: { 'loop-ops.app': 'loop-api', 'loop-ops.version': "1.2.3 $(id) ; sh -c 'x'", 'loop-ops.commit': 'abc' },
        }, 1_800_000),
      ),
    ],
    ['upstream-read', t(a.upstreamRead())],
    ['upstream-write-temp', t(a.upstreamWriteTemp())],
    ['upstream-mode-temp', t(a.upstreamModeTemp())],
    ['upstream-replace', t(a.upstreamReplace())],
    ['upstream-discard-temp', t(a.upstreamDiscardTemp())],
    ['upstream-remove', t(a.upstreamRemove())],
    ['oauth-list-backups', rc(listDir(p, backupsRoot(config.app.vaultPath), true))],
    ...live.map((l, i): [string, string[]] => [`oauth-exists-${i}`, rc(pathExists(p, l.live))]),
  ];
  for (const kind of BACKUP_KINDS) {
    const dir = backupDir(config.app.vaultPath, newBackupName(kind, at));
    out.push([`oauth-${kind}-mkdir`, rc(makeDir(p, dir))]);
    live.forEach((l, i) => {
      out.push(
        [`oauth-${kind}-move-${i}`, rc(moveInto(p, l.live, dir))],
        [`oauth-${kind}-exists-${i}`, rc(pathExists(p, `${dir}/${l.inBackup}`))],
        [`oauth-${kind}-copy-${i}`, rc(copyExact(p, `${dir}/${l.inBackup}`, l.live))],
      );
    });
  }
  if (config.nginx.useSudo) {
    out.push(['nginx-test', rc(nginxTest(config.nginx.testCommand, true))], ['nginx-reload', rc(nginxReload(config.nginx.reloadCommand, true))]);
  }
  return out;
}
