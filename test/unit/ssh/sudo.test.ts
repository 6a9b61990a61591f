import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildRemoteCommand, newMarkers } from '../../../src/ssh/sudo.js';

const markers = { prompt: '[loop-ops:sudo:abc]', ready: '[loop-ops:ready:abc]' };

describe('buildRemoteCommand', () => {
  it('without sudo: a wrapper that announces its PID, then execs argv', () => {
    expect(buildRemoteCommand(['docker', 'ps'], { sudo: false, sudoMode: 'password', timeoutSec: 0, markers })).toBe(
      `/bin/sh -c 'printf '\\''%s %s\\n'\\'' '\\''[loop-ops:ready:abc]'\\'' "$$" >&2; exec "$@"' sh docker ps`,
    );
  });

  it('password mode: sudo -S -k with our prompt, never the password itself', () => {
    const cmd = buildRemoteCommand(['/usr/bin/docker', 'ps'], { sudo: true, sudoMode: 'password', timeoutSec: 30, markers });
    expect(cmd.startsWith(`sudo -S -k -p '[loop-ops:sudo:abc]' -- /bin/sh -c`)).toBe(true);
    expect(cmd.endsWith(' sh timeout -k 2 30 /usr/bin/docker ps')).toBe(true);
  });

  it('nopasswd mode uses sudo -n; mode none ignores sudo', () => {
    expect(buildRemoteCommand(['id'], { sudo: true, sudoMode: 'nopasswd', timeoutSec: 0, markers })).toMatch(/^sudo -n -- \/bin\/sh /);
    expect(buildRemoteCommand(['id'], { sudo: true, sudoMode: 'none', timeoutSec: 0, markers })).toMatch(/^\/bin\/sh /);
  });

  it('runs for real in a local shell: READY line with the PID on stderr, argv intact', () => {
    const argv = ['node', '-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', "a'b", '$(id)'];
    const cmd = buildRemoteCommand(argv, { sudo: false, sudoMode: 'none', timeoutSec: 5, markers });
    const out = execFileSync('/bin/sh', ['-c', `${cmd} 2>&1`], { encoding: 'utf8' });
    expect(out).toMatch(/^\[loop-ops:ready:abc\] \d+\n/);
    expect(JSON.parse(out.split('\n')[1]!)).toEqual(["a'b", '$(id)']);
  });

  it('makes fresh random markers', () => {
    const a = newMarkers();
    const b = newMarkers();
    expect(a.prompt).not.toBe(b.prompt);
    expect(a.ready).toMatch(/^\[loop-ops:ready:[0-9a-f]{12}\]$/);
  });
});
