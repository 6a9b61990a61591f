/**
 * The SSH pool against the sandbox NAS: real OpenSSH, real sudo with a
 * password, real host key. Faults are produced for real (killed sessions,
 * a stopped sshd, an sshd with another host key).
 *
 * The product's user (sandbox ssh.username) may run as root only what
 * `loop-ops-mcp sudoers` generated; tests of the sudo protocol with programs
 * the product never runs as root (sleep, cat, printf) log in as the
 * sandbox's full-sudo admin (adminPool), through the same wrapper.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConnectionLostError,
  ExecAbortedError,
  ExecTimeoutError,
  HostKeyMismatchError,
  NasUnreachableError,
  readFileIfExists,
  rootArgv,
  RootCommandNotListedError,
  SudoError,
  UnsafeArgumentError,
  writeFileAtomic,
  createNasPool,
} from '../../src/ssh/index.js';
import { rootPolicyFor } from '../../src/ssh/root-commands.js';
import { emittedRootCommands } from '../helpers/root-emitted.js';
import type { SshPool } from '../../src/ssh/pool.js';
import { getSandbox, sandboxSkipReason } from '../helpers/sandbox.js';
import { adminPool, localProcesses, sandboxConfig, sandboxDocker, sandboxPool, waitFor } from '../helpers/nas.js';

const sandbox = getSandbox();
/** The sandbox sshd's config (scripts/sandbox.sh writes it under the sandbox root). */
const sshdConfig = () => join(sandbox!.rootDir, 'ssh', 'sshd_config');

/** Splits `printf '%s\0' args…` output back into the argv the remote program saw. */
const nulSplit = (s: string) => s.split('\0').slice(0, -1);

describe.skipIf(!sandbox)(`SSH pool on the sandbox NAS${sandbox ? '' : ` (skipped: ${sandboxSkipReason()})`}`, () => {
  let pool: SshPool;
  /** The full-sudo admin, allowed (here) these programs as root: the protocol, not the scope, is under test. */
  let admin: SshPool;
  beforeAll(() => {
    pool = sandboxPool();
    admin = adminPool(['/usr/bin/printf', '/usr/bin/cat', '/usr/bin/sleep', '/usr/bin/id']);
  });
  afterAll(async () => {
    await pool?.close();
    await admin?.close();
  });

  it('runs a command with exit code, stdout and stderr apart', async () => {
    const r = await pool.exec(['/bin/sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n', stdoutTruncated: false });
  });

  it('runs its root commands through password sudo fed on stdin, as the scoped user', async () => {
    const { config } = sandboxConfig();
    const docker = sandboxDocker(pool);
    try {
      // The Engine API over `sudo docker system dial-stdio`.
      expect((await docker.listContainers({ labels: ['loop-ops.app=loop-api'] })).map((c) => c.name)).toContain('loop-api-blue');
    } finally {
      docker.close();
    }
    const test = await pool.run(rootArgv(config).nginxTest(), { sudo: true });
    expect(test.stderr).toMatch(/test is successful/);
    expect((await admin.run(['/usr/bin/id', '-un'], { sudo: true })).stdout.trim()).toBe('root');
  });

  it('the scoped user gets nothing else: not listed → refused here; listed here but not in sudoers → refused by sudo', async () => {
    const { config, secrets } = sandboxConfig();
    const own = await pool.exec(['/bin/sh', '-c', 'id'], { sudo: true }).catch((e: unknown) => e);
    expect(own).toBeInstanceOf(RootCommandNotListedError);
    const widened = createNasPool(config, secrets, undefined, [{ id: 'shell', why: 'test', program: '/bin/sh', args: ['*'] }]);
    try {
      const err = await widened.exec(['/bin/sh', '-c', 'id'], { sudo: true, timeoutMs: 0 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SudoError);
      expect((err as Error).message).toBe(`sudo on the NAS does not allow ${sandbox!.ssh.username} to run /bin/sh as loop-ops-mcp needs it`);
    } finally {
      await widened.close();
    }
    // sudo itself, asked directly with the right password (on stdin): a shell is refused, a listed command is not.
    const ask = (argv: string[]) => pool.exec(['sudo', '-S', '-k', '-p', '', ...argv], { stdin: `${secrets.sudoPassword}\n` });
    const shell = await ask(['/bin/sh', '-c', 'id']);
    expect(shell.code).toBe(1);
    expect(shell.stderr).toMatch(/not allowed to execute '\/bin\/sh -c id'/);
    expect((await ask(['-n', '/bin/sh'])).code).toBe(1);
    expect((await ask(['/usr/bin/docker', 'ps'])).code).toBe(1);
    expect((await ask(['-l', '--', config.docker.binary, 'system', 'dial-stdio'])).code).toBe(0);
  });

  it("the NAS's real sudo allows every root argv the product emits (our matcher and sudoers agree)", async () => {
    const { config, secrets } = sandboxConfig();
    const policy = rootPolicyFor(config);
    const emitted = emittedRootCommands(config, 1800, new Date()).map(([, argv]) => argv);
    for (const argv of emitted) {
      expect(policy.match(argv), argv.join(' ')).toBeDefined();
      const r = await pool.exec(['sudo', '-S', '-p', '', '-l', '--', ...argv], { stdin: `${secrets.sudoPassword}\n` });
      expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
    }
  });

  const hostile = [
    "'; touch /tmp/loop-ops-pwned-1 #",
    '$(touch /tmp/loop-ops-pwned-2)',
    '`touch /tmp/loop-ops-pwned-3`',
    'a; touch /tmp/loop-ops-pwned-4',
    'line1\ntouch /tmp/loop-ops-pwned-5',
    '"dq" \\ back',
    '$HOME ${PATH} * ?',
    'üñíçødé ✓ 日本語',
    '--version',
    '',
  ];

  it('passes hostile strings as literal bytes, with and without sudo', async () => {
    expect(nulSplit((await pool.run(['printf', '%s\\0', ...hostile])).stdout)).toEqual(hostile);
    expect(nulSplit((await admin.run(['/usr/bin/printf', '%s\\0', ...hostile], { sudo: true })).stdout)).toEqual(hostile);
    // As the scoped user, through a root command of the list: docker quotes the context path it did not find.
    const { config } = sandboxConfig();
    for (const h of hostile) {
      const path = `/nonexistent-loop-ops/${h}`;
      const r = await pool.exec([config.docker.binary, 'build', '--tag', 'loop-ops-hostile:1', '--', path], { sudo: true });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`path ${JSON.stringify(path)} not found`);
    }
    for (let i = 1; i <= 5; i++) expect(() => readFileSync(`/tmp/loop-ops-pwned-${i}`)).toThrow();
  });

  it('rejects NUL bytes before anything is sent', async () => {
    await expect(pool.exec(['echo', 'a\0b'])).rejects.toBeInstanceOf(UnsafeArgumentError);
  });

  it('feeds stdin to the command only after sudo took the password', async () => {
    const { secrets } = sandboxConfig();
    const r = await admin.run(['/usr/bin/cat'], { sudo: true, stdin: 'payload line\n' });
    expect(r.stdout).toBe('payload line\n');
    expect(r.stdout + r.stderr).not.toContain(secrets.sudoPassword!);
  });

  it('a prepared command runs only when started: sudo checked ahead, stdin reaches it; a cancelled one never runs', async () => {
    const { config } = sandboxConfig();
    // As root (the product's own `nginx -t`): prepared, then started; its output is nginx's.
    const test = pool.arm(rootArgv(config).nginxTest(), { sudo: true, timeoutMs: 30_000 });
    await test.armed;
    const r = await test.run();
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/test is successful/);
    // As the SSH user: the payload after the start line reaches the command.
    const cat = pool.arm(['cat'], { stdin: 'payload\n' });
    await cat.armed;
    expect((await cat.run()).stdout).toBe('payload\n');
    // Cancelled, before or after it was ready: the command never runs.
    const marker = `/tmp/loop-ops-armed-${process.pid}`;
    const touch = () => pool.arm(['/bin/sh', '-c', 'touch "$1"', 'sh', marker]);
    const early = touch();
    early.cancel();
    const late = touch();
    await late.armed;
    late.cancel();
    await expect(early.run()).rejects.toThrow(/not started/);
    await expect(late.run()).rejects.toThrow(/not started/);
    expect((await pool.exec(['test', '-e', marker])).code).not.toBe(0);
  });

  it('never puts the sudo password on a command line', async () => {
    const { config, secrets } = sandboxConfig();
    const running = admin.run(['/usr/bin/sleep', '1.5'], { sudo: true });
    // The scoped user's root commands meanwhile: a kept-open Engine API stream and nginx tests.
    const stream = await pool.openStream(rootArgv(config).dockerApi(), { sudo: true });
    const tests = Promise.all([1, 2, 3].map(() => pool.run(rootArgv(config).nginxTest(), { sudo: true })));
    const snapshots: string[] = [];
    for (let i = 0; i < 10; i++) {
      snapshots.push(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }));
      await new Promise((r) => setTimeout(r, 100));
    }
    await running;
    await tests;
    stream.destroy();
    expect(snapshots.some((s) => s.includes('sleep 1.5'))).toBe(true); // we did look while it ran
    expect(snapshots.some((s) => s.includes('docker system dial-stdio'))).toBe(true);
    for (const s of snapshots) expect(s).not.toContain(secrets.sudoPassword!);
  });

  it('refuses a wrong sudo password clearly, without echoing it anywhere', async () => {
    const wrong = 'Wr0ng-pass-Xyz-123';
    const bad = sandboxPool(() => {}, { sudoPassword: wrong });
    try {
      const { config } = sandboxConfig();
      const err = await bad.exec(rootArgv(config).nginxTest(), { sudo: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SudoError);
      expect((err as Error).message).toMatch(/refused the password/);
      expect(JSON.stringify(err) + String((err as Error).message)).not.toContain(wrong);
    } finally {
      await bad.close();
    }
  });

  it('caps captured output and says it was cut; keeps the tail when asked', async () => {
    const script = 'i=0; while [ $i -lt 20000 ]; do echo "line $i"; i=$((i+1)); done';
    const head = await pool.exec(['/bin/sh', '-c', script], { maxOutputBytes: 1000 });
    expect(head.stdoutTruncated).toBe(true);
    expect(head.stdout.length).toBe(1000);
    expect(head.stdout.startsWith('line 0\n')).toBe(true);
    const tail = await pool.exec(['/bin/sh', '-c', script], { maxOutputBytes: 1000, keep: 'tail' });
    expect(tail.stdout.endsWith('line 19999\n')).toBe(true);
  });

  it('streams output lines as they come', async () => {
    const seen: Array<[number, string]> = [];
    const t0 = Date.now();
    await pool.run(['/bin/sh', '-c', 'echo one; sleep 0.5; echo two >&2; sleep 0.5; echo three'], {
      onStdoutLine: (l) => seen.push([Date.now() - t0, l]),
      onStderrLine: (l) => seen.push([Date.now() - t0, `err:${l}`]),
    });
    expect(seen.map((s) => s[1])).toEqual(['one', 'err:two', 'three']);
    expect(seen[2]![0] - seen[0]![0]).toBeGreaterThanOrEqual(800); // really streamed, not at the end
  });

  it('ends the remote process when a command outlives its timeout (also as root)', async () => {
    for (const sudo of [false, true]) {
      const marker = sudo ? '31.4159' : '31.2718';
      const err = await (sudo ? admin : pool).exec([sudo ? '/usr/bin/sleep' : 'sleep', marker], { timeoutMs: 1500, sudo }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ExecTimeoutError);
      const left = await waitFor(() => localProcesses(`sleep ${marker}`), (l) => l.length === 0, 5000);
      expect(left).toEqual([]);
    }
  });

  it('cancels on AbortSignal and stops the remote process', async () => {
    const ac = new AbortController();
    const p = admin.exec(['/usr/bin/sleep', '33.3333'], { sudo: true, signal: ac.signal, timeoutMs: 60_000 });
    await waitFor(() => localProcesses('sleep 33.3333'), (l) => l.length > 0, 5000);
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(ExecAbortedError);
    expect(await waitFor(() => localProcesses('sleep 33.3333'), (l) => l.length === 0, 5000)).toEqual([]);
  });

  it('runs 50 concurrent commands without a failure', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => pool.run(['echo', String(i)]).then((r) => r.stdout.trim())),
    );
    expect(results).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    const stats = pool.getStats();
    expect(stats.connections).toBeLessThanOrEqual(2);
  });

  it('fails clearly when the connection is killed mid-command, then recovers on a new connection', async () => {
    const p = pool.exec(['sleep', '20.5'], { timeoutMs: 30_000 });
    await waitFor(() => localProcesses('sleep 20.5'), (l) => l.length > 0, 5000);
    const before = pool.getStats().connectsOpened;
    // Kill the server side of every session of our user: the network connection dies.
    execFileSync('pkill', ['-KILL', '-f', `sshd: ${sandbox!.ssh.username}`]);
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionLostError);
    expect((err as Error).message).toMatch(/lost while the command ran/);
    const r = await pool.run(['echo', 'again']);
    expect(r.stdout).toBe('again\n');
    expect(pool.getStats().connectsOpened).toBeGreaterThan(before);
    // The remote sleep died with its session (SIGHUP); nothing may be left behind.
    expect(await waitFor(() => localProcesses('sleep 20.5'), (l) => l.length === 0, 5000)).toEqual([]);
  });

  it('writes files atomically by SFTP and reads them back', async () => {
    const dir = sandbox!.stateDir;
    const path = `${dir}/test-atomic-${process.pid}.txt`;
    await writeFileAtomic(pool, path, 'first\n');
    await writeFileAtomic(pool, path, 'second\n'); // replaces an existing file
    expect(await readFileIfExists(pool, path)).toBe('second\n');
    const ls = await pool.run(['ls', '-a', dir]);
    expect(ls.stdout).not.toMatch(/\.tmp-/);
    await pool.run(['rm', '-f', path]);
    expect(await readFileIfExists(pool, path)).toBeUndefined();
  });

  it('replaces a root-owned file through the listed root commands only (tee, chmod, mv), content unchanged', async () => {
    // The upstream file is the one file written as root (when the SSH user may not): rewrite it with
    // what it holds now, so nginx is unaffected, and check root wrote it.
    const { config } = sandboxConfig();
    const file = config.nginx.upstreamFile;
    const before = await readFileIfExists(pool, file, { sudo: true });
    expect(before).toMatch(/server 127\.0\.0\.1:/);
    const owner = execFileSync('stat', ['-c', '%U:%G', file], { encoding: 'utf8' }).trim();
    try {
      await writeFileAtomic(pool, file, before!, { sudo: true });
      expect(execFileSync('stat', ['-c', '%U %a', file], { encoding: 'utf8' }).trim()).toBe('root 644');
      expect(await readFileIfExists(pool, file, { sudo: true })).toBe(before);
      const left = execFileSync('ls', ['-a', dirname(file)], { encoding: 'utf8' });
      expect(left).not.toMatch(/loop-ops-tmp/);
      await expect(writeFileAtomic(pool, `${sandbox!.stateDir}/elsewhere.txt`, 'x', { sudo: true })).rejects.toBeInstanceOf(RootCommandNotListedError);
    } finally {
      execFileSync('chown', [owner, file]);
    }
  });
});

describe.skipIf(!sandbox)('SSH faults: host key and unreachable NAS', () => {
  let sshd: ReturnType<typeof spawn> | undefined;
  const port = 2223;
  let dir: string;

  beforeAll(async () => {
    // A second real sshd, same config as the sandbox NAS, but with a NEW host key:
    // what the pool meets when the NAS was reinstalled or someone is in the middle.
    dir = mkdtempSync(join(tmpdir(), 'loop-sshd-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'hostkey')]);
    sshd = spawn(
      '/usr/sbin/sshd',
      ['-D', '-f', sshdConfig(), '-o', `Port=${port}`, '-o', `HostKey=${join(dir, 'hostkey')}`, '-o', `PidFile=${join(dir, 'pid')}`],
      { stdio: 'ignore' },
    );
    await waitFor(
      () => {
        try {
          execFileSync('ssh-keyscan', ['-p', String(port), '127.0.0.1'], { stdio: 'pipe', timeout: 2000 });
          return true;
        } catch {
          return false;
        }
      },
      (ok) => ok,
      5000,
    );
  });
  afterAll(() => {
    sshd?.kill('SIGTERM');
  });

  it('refuses a server with another host key, naming the fingerprint it saw', async () => {
    const seen = execFileSync('ssh-keygen', ['-lf', join(dir, 'hostkey.pub')], { encoding: 'utf8' }).split(' ')[1]!;
    for (const policy of ['fingerprint', 'knownHosts'] as const) {
      const pool = sandboxPool((c) => {
        c.nas.port = port;
        if (policy === 'knownHosts') {
          c.nas.hostKeyFingerprint = undefined;
          // The sandbox known_hosts lists the real key for [127.0.0.1]:2222 only.
        }
      });
      try {
        const err = await pool.exec(['true']).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(HostKeyMismatchError);
        expect((err as Error).message).toContain(seen);
        expect((err as HostKeyMismatchError).seenFingerprint).toBe(seen);
      } finally {
        await pool.close();
      }
    }
  });

  it('says "unreachable" within the connect timeout when sshd is stopped, without hanging', async () => {
    const pool = sandboxPool((c) => {
      c.nas.port = port;
      c.nas.hostKeyFingerprint = execFileSync('ssh-keygen', ['-lf', join(dir, 'hostkey.pub')], { encoding: 'utf8' }).split(' ')[1]!;
      c.nas.connectTimeoutMs = 3000;
    });
    try {
      expect((await pool.run(['echo', 'up'])).stdout).toBe('up\n');
      sshd!.kill('SIGTERM');
      execFileSync('pkill', ['-f', `sshd: ${sandbox!.ssh.username}`]);
      await waitFor(() => localProcesses(`sshd -D -f ${sshdConfig()} -o Port=${port}`), (l) => l.length === 0, 5000);
      const err = await pool.exec(['true']).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NasUnreachableError);
      expect((err as Error).message).toMatch(/unreachable: ECONNREFUSED/);
    } finally {
      await pool.close();
    }
  });

  it('times out the handshake against a port that accepts but never speaks SSH', async () => {
    const { createServer } = await import('node:net');
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const addr = silent.address() as { port: number };
    const pool = sandboxPool((c) => {
      c.nas.port = addr.port;
      c.nas.connectTimeoutMs = 1000;
    });
    try {
      const err = await pool.exec(['true']).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NasUnreachableError);
      // The handshake bound fired (not some other failure); how fast is a bench question.
      expect((err as Error).message).toMatch(/unreachable: .*(timed out|timeout)/i);
    } finally {
      await pool.close();
      silent.close();
    }
  });
});
