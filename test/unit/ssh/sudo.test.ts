/**
 * The remote command line, run for real in a local /bin/sh with a fake `sudo`
 * first on PATH: what sudo is asked to run (exactly one program argv, never a
 * shell), in which order, from which parent process (sudo's credential cache
 * key), and which PID is announced.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildRemoteCommand, GATE_CLOSED_EXIT, newMarkers, SUDO_DENIED_EXIT, type SudoMode } from '../../../src/ssh/sudo.js';

const markers = { prompt: '[loop-ops:sudo:abc]', ready: '[loop-ops:ready:abc]', denied: '[loop-ops:denied:abc]' };
const dir = mkdtempSync(join(tmpdir(), 'fake-sudo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A stand-in for sudo: logs "pid ppid arg…" (args separated by \x1f) per call; `-l` checks (prompting
// for the password with -S and reading one line), `--` runs: prints the argv it was asked to run and
// copies stdin to stdout, instead of running anything.
const fakeSudo = join(dir, 'sudo');
writeFileSync(
  fakeSudo,
  `#!/bin/sh
log="$FAKE_SUDO_LOG"
{ printf '%s %s' "$$" "$PPID"; for a in "$@"; do printf '\\037%s' "$a"; done; printf '\\n'; } >> "$log"
list=0; prompt=; stdin=0
while [ $# -gt 0 ]; do
  case $1 in
    -l) list=1 ;; -S) stdin=1 ;; -p) shift; prompt=$1 ;; --) shift; break ;; -*) ;; *) break ;;
  esac
  shift
done
if [ $list = 1 ]; then
  [ "$FAKE_SUDO_DENY" = 1 ] && exit 1
  if [ $stdin = 1 ]; then printf '%s' "$prompt" >&2; IFS= read -r pw; [ "$pw" = "$FAKE_SUDO_PW" ] || exit 1; fi
  exit 0
fi
printf 'RAN'; for a in "$@"; do printf '\\037%s' "$a"; done; printf '\\n'
cat
`,
);
chmodSync(fakeSudo, 0o755);

interface Call {
  pid: number;
  ppid: number;
  args: string[];
}

function runWithFakeSudo(argv: string[], mode: SudoMode, input: string, deny = false, gated = false) {
  const log = join(dir, `log-${Math.random().toString(36).slice(2)}`);
  writeFileSync(log, '');
  const cmd = buildRemoteCommand(argv, { sudo: true, sudoMode: mode, timeoutSec: 0, markers, gated });
  let status = 0;
  let out = '';
  try {
    out = execFileSync('/bin/sh', ['-c', `${cmd} 2>&1`], {
      encoding: 'utf8',
      input,
      env: { PATH: `${dir}:${process.env.PATH}`, FAKE_SUDO_LOG: log, FAKE_SUDO_PW: 'pw', FAKE_SUDO_DENY: deny ? '1' : '0' },
    });
  } catch (e) {
    status = (e as { status: number }).status;
    out = String((e as { stdout: string }).stdout);
  }
  const calls: Call[] = readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [head, ...args] = l.split('\x1f');
      const [pid, ppid] = head!.split(' ').map(Number);
      return { pid: pid!, ppid: ppid!, args };
    });
  return { status, out, calls };
}

const rootArgv = ['/usr/bin/timeout', '-k', '2', '00030', '/usr/bin/docker', 'build', '--label', "x=$(id)'; sh", '--', '/src'];

describe('buildRemoteCommand', () => {
  it('without sudo: a wrapper that announces its PID, then execs argv', () => {
    expect(buildRemoteCommand(['docker', 'ps'], { sudo: false, sudoMode: 'password', timeoutSec: 0, markers })).toBe(
      `/bin/sh -c 'printf '\\''%s %s\\n'\\'' '\\''[loop-ops:ready:abc]'\\'' "$$" >&2; exec "$@"' sh docker ps`,
    );
  });

  it('password mode: sudo checks the password and the exact argv, then runs that argv alone with sudo -n', () => {
    const { status, out, calls } = runWithFakeSudo(rootArgv, 'password', 'pw\npayload bytes');
    expect(status).toBe(0);
    expect(calls.map((c) => c.args.slice(0, c.args.indexOf('--') + 1))).toEqual([
      ['-S', '-p', markers.prompt, '-l', '--'],
      ['-n', '--'],
    ]);
    // Both calls are asked about exactly the root argv: no /bin/sh -c under sudo.
    for (const c of calls) expect(c.args.slice(c.args.indexOf('--') + 1)).toEqual(rootArgv);
    // sudo caches the validation per parent process: the run must have the same parent.
    expect(calls[1]!.ppid).toBe(calls[0]!.ppid);
    // Prompt, then READY with the PID of the sudo that runs the command (the one we may TERM).
    const lines = out.split('\n');
    expect(lines[0]).toBe(`${markers.prompt}${markers.ready} ${calls[1]!.pid}`);
    expect(lines[1]).toBe(['RAN', ...rootArgv].join('\x1f'));
    expect(lines.slice(2).join('\n')).toBe('payload bytes'); // stdin after the password reaches the command only
  });

  it('nopasswd mode: sudo -n -l, READY, sudo -n, never a prompt', () => {
    const { status, out, calls } = runWithFakeSudo(rootArgv, 'nopasswd', 'payload');
    expect(status).toBe(0);
    expect(calls.map((c) => c.args.slice(0, c.args.indexOf('--')))).toEqual([['-n', '-l'], ['-n']]);
    for (const c of calls) expect(c.args.slice(c.args.indexOf('--') + 1)).toEqual(rootArgv);
    expect(out.split('\n')[0]).toBe(`${markers.ready} ${calls[1]!.pid}`);
    expect(out).not.toContain(markers.prompt);
  });

  it('a command sudoers does not allow: DENIED instead of READY, nothing runs', () => {
    for (const mode of ['password', 'nopasswd'] as const) {
      const { status, out, calls } = runWithFakeSudo(['/bin/sh', '-c', 'id'], mode, 'pw\n', true);
      expect(status).toBe(SUDO_DENIED_EXIT);
      expect(out).toContain(markers.denied);
      expect(out).not.toContain(markers.ready);
      expect(calls).toHaveLength(1);
    }
  });

  it('wrong password: sudo -l fails, nothing runs', () => {
    const { status, out, calls } = runWithFakeSudo(rootArgv, 'password', 'not-it\n');
    expect(status).toBe(SUDO_DENIED_EXIT);
    expect(out).not.toContain(markers.ready);
    expect(calls).toHaveLength(1);
  });

  it('refuses a root command without an absolute program path; mode none ignores sudo', () => {
    expect(() => buildRemoteCommand(['docker', 'ps'], { sudo: true, sudoMode: 'password', timeoutSec: 0, markers })).toThrow(/absolute/);
    expect(buildRemoteCommand(['id'], { sudo: true, sudoMode: 'none', timeoutSec: 0, markers })).toMatch(/^\/bin\/sh /);
  });

  it('never carries the password, whatever the mode', () => {
    for (const mode of ['password', 'nopasswd', 'none'] as const) {
      const cmd = buildRemoteCommand(rootArgv, { sudo: true, sudoMode: mode, timeoutSec: 5, markers });
      expect(cmd).not.toMatch(/\bpw\b/);
    }
  });

  it('runs for real in a local shell: READY line with the PID on stderr, argv intact', () => {
    const argv = ['node', '-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', "a'b", '$(id)'];
    const cmd = buildRemoteCommand(argv, { sudo: false, sudoMode: 'none', timeoutSec: 5, markers });
    const out = execFileSync('/bin/sh', ['-c', `${cmd} 2>&1`], { encoding: 'utf8' });
    expect(out).toMatch(/^\[loop-ops:ready:abc\] \d+\n/);
    expect(JSON.parse(out.split('\n')[1]!)).toEqual(["a'b", '$(id)']);
  });

  describe('prepared (gated): sudo checks now, the command runs on `go`', () => {
    it('password mode: the same two sudo calls, the run only after the `go` line; the payload after it reaches the command', () => {
      const { status, out, calls } = runWithFakeSudo(rootArgv, 'password', 'pw\ngo\npayload bytes', false, true);
      expect(status).toBe(0);
      expect(calls.map((c) => c.args.slice(0, c.args.indexOf('--') + 1))).toEqual([
        ['-S', '-p', markers.prompt, '-l', '--'],
        ['-n', '--'],
      ]);
      for (const c of calls) expect(c.args.slice(c.args.indexOf('--') + 1)).toEqual(rootArgv);
      expect(calls[1]!.ppid).toBe(calls[0]!.ppid);
      const lines = out.split('\n');
      expect(lines[0]).toBe(`${markers.prompt}${markers.ready} ${calls[1]!.pid}`);
      expect(lines[1]).toBe(['RAN', ...rootArgv].join('\x1f'));
      expect(lines.slice(2).join('\n')).toBe('payload bytes'); // neither the password nor `go`
    });

    it('EOF or any other line instead of `go`: sudo checked, nothing runs', () => {
      for (const input of ['pw\n', 'pw\nno\n', 'pw\ngo now\n', 'pw\n\n']) {
        const { status, out, calls } = runWithFakeSudo(rootArgv, 'password', input, false, true);
        expect(status, JSON.stringify(input)).toBe(GATE_CLOSED_EXIT);
        expect(out).toContain(markers.ready);
        expect(out).not.toContain('RAN');
        expect(calls).toHaveLength(1); // only the check
      }
    });

    it('nopasswd mode, and a command sudoers refuses: DENIED before the gate, nothing runs', () => {
      const ok = runWithFakeSudo(rootArgv, 'nopasswd', 'go\n', false, true);
      expect(ok.status).toBe(0);
      expect(ok.calls.map((c) => c.args.slice(0, c.args.indexOf('--')))).toEqual([['-n', '-l'], ['-n']]);
      const denied = runWithFakeSudo(rootArgv, 'password', 'pw\ngo\n', true, true);
      expect(denied.status).toBe(SUDO_DENIED_EXIT);
      expect(denied.out).not.toContain(markers.ready);
      expect(denied.calls).toHaveLength(1);
    });

    it('a user command waits for `go` too', () => {
      const argv = ['node', '-e', 'process.stdout.write("ran:" + require("fs").readFileSync(0, "utf8"))'];
      const cmd = buildRemoteCommand(argv, { sudo: false, sudoMode: 'none', timeoutSec: 5, markers, gated: true });
      expect(execFileSync('/bin/sh', ['-c', `${cmd} 2>/dev/null`], { encoding: 'utf8', input: 'go\nrest' })).toBe('ran:rest');
      let status = 0;
      try {
        execFileSync('/bin/sh', ['-c', `${cmd} 2>/dev/null`], { encoding: 'utf8', input: '' });
      } catch (e) {
        status = (e as { status: number }).status;
      }
      expect(status).toBe(GATE_CLOSED_EXIT);
    });
  });

  it('makes fresh random markers', () => {
    const a = newMarkers();
    const b = newMarkers();
    expect(a.prompt).not.toBe(b.prompt);
    expect(a.ready).toMatch(/^\[loop-ops:ready:[0-9a-f]{12}\]$/);
    expect(a.denied).toMatch(/^\[loop-ops:denied:[0-9a-f]{12}\]$/);
  });
});
