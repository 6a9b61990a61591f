/**
 * The root command list: every argv the builders emit (with the pool's
 * `timeout` prefix) is allowed by a generated rule, every rule is used by a
 * builder, nothing else gets through (shells, extra arguments, words smuggled
 * through a wildcard), and the printed sudoers file passes `visudo -cf`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emittedRootCommands } from '../../helpers/root-emitted.js';
import { configSchema, type Config } from '../../../src/config.js';
import { runSudoers } from '../../../src/cli/sudoers.js';
import { backupDir, makeDir, moveInto } from '../../../src/bluegreen/commands.js';
import { newBackupName } from '../../../src/bluegreen/operations/oauth-files.js';
import {
  globToRegExp,
  renderSudoers,
  rootArgv,
  rootPolicyFor,
  rootRules,
  UnscopablePathError,
} from '../../../src/ssh/root-commands.js';

const NAS = { username: 'loopops', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` };
function configWith(over: Record<string, unknown> = {}): Config {
  return configSchema.parse({ nas: NAS, ...over });
}

/** Synology defaults, the sandbox's layout, and nginx inside a container without sudo. */
const configs: Array<[string, Config]> = [
  ['synology defaults', configWith()],
  [
    'sandbox layout',
    configWith({
      docker: { binary: '/usr/bin/docker' },
      nginx: {
        upstreamFile: '/var/lib/loop-sandbox/nginx/upstream/loop-api.conf',
        testCommand: ['/usr/sbin/nginx', '-c', '/var/lib/loop-sandbox/nginx/nginx.conf', '-t'],
        reloadCommand: ['/usr/sbin/nginx', '-c', '/var/lib/loop-sandbox/nginx/nginx.conf', '-s', 'reload'],
      },
      app: { vaultPath: '/srv/v', oauthKeysDir: '/srv/v/keys', dbPath: '/srv/v/app.db' },
    }),
  ],
  ['nginx without sudo', configWith({ nginx: { useSudo: false, testCommand: ['docker', 'exec', 'nginx', 'nginx', '-t'] } })],
];

/** A small deterministic generator (no dependency): the same cases on every run. */
function* samples(n: number): Generator<{ timeoutSec: number; at: Date }> {
  let x = 0x2545f491;
  const next = () => ((x = (x * 1103515245 + 12345) >>> 0), x);
  for (let i = 0; i < n; i++) {
    yield { timeoutSec: [1, 2, 15, 30, 60, 1800, 14_400, 99_999, 1 + (next() % 99_999)][i % 9]!, at: new Date(Date.UTC(2000, 0, 1) + (next() % 2_000_000_000) * 1000) };
  }
}

describe('root command list', () => {
  for (const [name, config] of configs) {
    it(`${name}: every emitted root argv is allowed by its own rule, and every rule is used`, () => {
      const policy = rootPolicyFor(config);
      const used = new Set<string>();
      for (const { timeoutSec, at } of samples(200)) {
        for (const [id, argv] of emittedRootCommands(config, timeoutSec, at)) {
          const rule = policy.match(argv);
          expect(rule?.id, `${id}: ${argv.join(' ')}`).toBe(id);
          used.add(rule!.id);
        }
      }
      expect([...used].sort()).toEqual(rootRules(config).map((r) => r.id).sort());
    });

    it(`${name}: no shell and no unexpected program runs as root`, () => {
      const programs = new Set(rootRules(config).flatMap((r) => [r.program, r.program === config.sudo.programs.timeout ? r.args[3]! : r.program]));
      for (const p of programs) expect(p).not.toMatch(/(^|\/)(ba|da|z|k)?sh$/);
      expect([...programs].every((p) => p.startsWith('/'))).toBe(true);
    });
  }

  const config = configs[1]![1];
  const policy = rootPolicyFor(config);
  const a = rootArgv(config);
  const t = (argv: string[], sec = 30) => policy.withTimeout(argv, sec);
  const p = config.sudo.programs;
  const backup = backupDir(config.app.vaultPath, newBackupName('reset'));

  it('refuses what the list does not name', () => {
    const refused: string[][] = [
      ['/bin/sh', '-c', 'id'],
      t(['/bin/sh', '-c', 'id']),
      ['/usr/bin/docker', 'ps'],
      ['/usr/bin/docker', 'system', 'dial-stdio', '--extra'],
      // A shell smuggled into the words a wildcard could cover: the duration is digits only…
      ['/usr/bin/timeout', '-k', '2', '1 /bin/sh -c id', '/usr/bin/docker', 'build', 'x'],
      ['/usr/bin/timeout', '-k', '2', '1', '/bin/sh', '-c', 'id', '/usr/bin/docker', 'build', 'x'],
      // …and exactly five of them.
      ['/usr/bin/timeout', '-k', '2', '000030', '/usr/bin/docker', 'build', 'x'],
      // Extra operands after an exact path (mv into /etc/sudoers.d, a second mkdir).
      t([...moveInto(p, config.app.dbPath, backup).argv, '/etc/sudoers.d/']),
      t([...makeDir(p, backup).argv, '/etc/x']),
      t(makeDir(p, '/srv/v/backups/oauth-reset-2026120xT000000').argv),
      t(makeDir(p, '/srv/v/backups/../../etc/oauth-reset-20261206T000000').argv),
      t(makeDir(p, '/srv/v/backups/oauth-other-20261206T000000').argv),
      t(moveInto(p, '/etc/shadow', backup).argv),
      t(['/usr/bin/tee', '--', '/etc/sudoers']),
      t(['/bin/rm', '-rf', '--', '/']),
      t(a.upstreamRead(), 0), // a time-limited rule without its time limit
      ['/usr/bin/timeout', '-k', '9', '00030', ...a.upstreamRead()],
    ];
    for (const argv of refused) expect(policy.match(argv), argv.join(' ')).toBeUndefined();
  });

  it('caps the remote bound at five digits and never writes 0', () => {
    expect(policy.withTimeout(['/x'], 0.2)).toEqual(['/usr/bin/timeout', '-k', '2', '00001', '/x']);
    expect(policy.withTimeout(['/x'], 1e9)).toEqual(['/usr/bin/timeout', '-k', '2', '99999', '/x']);
    expect(policy.withTimeout(['/x'], 0)).toEqual(['/x']);
  });

  it('refuses config paths sudoers cannot match exactly', () => {
    expect(() => rootRules(configWith({ app: { vaultPath: '/volume1/my vault' } }))).toThrow(UnscopablePathError);
    expect(() => rootRules(configWith({ nginx: { upstreamFile: '/etc/nginx/*.conf' } }))).toThrow(UnscopablePathError);
    expect(() => rootRules(configWith({ docker: { binary: '/usr/bin/dock[e]r' } }))).toThrow(UnscopablePathError);
    expect(configSchema.safeParse({ nas: NAS, nginx: { testCommand: ['nginx', '-t'] } }).success).toBe(false);
    expect(configSchema.safeParse({ nas: NAS, nginx: { testCommand: ['nginx', '-t'], useSudo: false } }).success).toBe(true);
  });

  it('matches like fnmatch without FNM_PATHNAME, as sudoers does for arguments', () => {
    expect(globToRegExp('build *').test('build --tag x -- /a/b c')).toBe(true);
    expect(globToRegExp('[0-9][0-9]').test('42')).toBe(true);
    expect(globToRegExp('[0-9][0-9]').test('4 2')).toBe(false);
    expect(globToRegExp('a\\,b\\:c\\=d').test('a,b:c=d')).toBe(true);
    expect(globToRegExp('[!0-9]').test('x')).toBe(true);
    expect(globToRegExp('[!0-9]').test('5')).toBe(false);
  });
});

describe('sudoers file', () => {
  const config = configs[1]![1];

  it('one commented line per rule, for the user, with NOPASSWD only in nopasswd mode', () => {
    const text = renderSudoers(rootRules(config), { user: 'loopops', mode: 'password', version: '9.9.9' });
    expect(text.split('\n')[0]).toBe('# loop-ops-mcp 9.9.9: what loopops may run as root on this NAS, and nothing else.');
    const lines = text.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toHaveLength(rootRules(config).length);
    for (const l of lines) expect(l).toMatch(/^loopops ALL=\(root\) \/\S+ /);
    expect(text).not.toContain('NOPASSWD');
    expect(text).not.toMatch(/\/bin\/sh|ALL$/m);
    expect(renderSudoers(rootRules(config), { user: 'loopops', mode: 'nopasswd', version: '1' })).toMatch(/^loopops ALL=\(root\) NOPASSWD: \/usr\/bin\/docker system dial-stdio$/m);
    expect(() => renderSudoers([], { user: 'a b', mode: 'password', version: '1' })).toThrow();
  });

  const visudo = ['/usr/sbin/visudo', '/sbin/visudo'].find((p) => existsSync(p));
  it.skipIf(!visudo)(`is accepted by visudo -cf${visudo ? '' : ' (skipped: visudo not installed)'}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'sudoers-'));
    try {
      for (const [name, c] of configs) {
        for (const mode of ['password', 'nopasswd'] as const) {
          const f = join(dir, `${name.replace(/\W/g, '_')}-${mode}`);
          writeFileSync(f, renderSudoers(rootRules(c), { user: 'loopops', mode, version: '1' }));
          expect(execFileSync(visudo!, ['-cf', f], { encoding: 'utf8' })).toMatch(/parsed OK/);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loop-ops-mcp sudoers prints it from a config file, without any secret', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sudoers-cli-'));
    try {
      const file = join(dir, 'config.yaml');
      writeFileSync(file, 'nas:\n  username: nasadmin\n  hostKeyFingerprint: "SHA256:' + 'A'.repeat(43) + '"\ndocker:\n  binary: /usr/local/bin/docker\n');
      let out = '';
      const code = await runSudoers(['--config', file], (s) => (out += s));
      expect(code).toBe(0);
      expect(out).toMatch(/^nasadmin ALL=\(root\) \/usr\/local\/bin\/docker system dial-stdio$/m);
      expect(out).toMatch(/^nasadmin ALL=\(root\) \/usr\/bin\/timeout -k 2 \[0-9\]\[0-9\]\[0-9\]\[0-9\]\[0-9\] \/usr\/local\/bin\/docker build \*$/m);
      out = '';
      expect(await runSudoers(['--config', file, '--user', 'other'], (s) => (out += s))).toBe(0);
      expect(out).toMatch(/^other ALL=/m);
      writeFileSync(file, 'nas:\n  username: nasadmin\n  hostKeyFingerprint: "SHA256:' + 'A'.repeat(43) + '"\napp:\n  vaultPath: /volume1/a vault\n');
      expect(await runSudoers(['--config', file], () => {})).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
