import { describe, expect, it } from 'vitest';
import { ensureStateDir, LOCK_EXIT, lockAge, mkdirLock, removeLock, removeLockIf, replaceLockDetailsIf } from '../../../src/bluegreen/commands.js';
import { assertStateDir, type LockDetails, serializeLockDetails } from '../../../src/domain/index.js';
import { describeHolder, lockIsLive, parseLockAge } from '../../../src/bluegreen/lock.js';
import { LockHeldError } from '../../../src/bluegreen/types.js';

const mkdirLockArgv = (d: string) => mkdirLock(d).argv;
const removeLockArgv = (d: string) => removeLock(d).argv;
const ensureStateDirArgv = (d: string) => ensureStateDir(d).argv;
const LOCK_HELD_EXIT = LOCK_EXIT.held;

const dir = '/volume1/docker/loop-ops';
const details: LockDetails = {
  operationId: 'op-1',
  operation: 'deploy',
  holder: 'token:ab12',
  since: '2026-11-21T10:00:00.000Z',
  host: 'mcp-host',
  pid: 4242,
};

describe('lock command builders', () => {
  it('mkdir: creates the state dir, then the lock dir atomically; data only as positional args', () => {
    const argv = mkdirLockArgv(dir);
    expect(argv.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(argv[3]).toBe('sh');
    expect(argv.slice(4)).toEqual([dir, `${dir}/lock`]);
    // The script is fixed: no path appears in it.
    expect(argv[2]).not.toContain(dir);
    expect(argv[2]).toContain('mkdir -p -- "$1"');
    expect(argv[2]).toContain('mkdir -- "$2"');
    expect(argv[2]).toContain(`exit ${LOCK_HELD_EXIT}`);
  });
  it('mkdir: the script is the same for every state dir', () => {
    expect(mkdirLockArgv('/a')[2]).toBe(mkdirLockArgv("/tmp/x y/'; rm -rf /")[2]);
  });
  it('remove: rm -rf -- <stateDir>/lock, computed', () => {
    expect(removeLockArgv(dir)).toEqual(['rm', '-rf', '--', `${dir}/lock`]);
    expect(removeLockArgv(`${dir}/`)).toEqual(['rm', '-rf', '--', `${dir}/lock`]);
  });
  it('compare-and-delete: renames the lock away first, compares there, puts a changed one back', () => {
    const text = serializeLockDetails(details);
    const c = removeLockIf(dir, text, 'n0nce');
    expect(c.sudo).toBe(false);
    expect(c.argv.slice(3)).toEqual(['sh', `${dir}/lock`, `${dir}/lock/details.json`, text.trimEnd(), `${dir}/lock.released-n0nce`]);
    const script = c.argv[2]!;
    expect(script).not.toContain(dir);
    expect(script.indexOf('mv -- "$1" "$4"')).toBeGreaterThan(-1);
    expect(script.indexOf('rm -rf -- "$4"')).toBeGreaterThan(script.indexOf('mv -- "$1" "$4"'));
    expect(script).toContain('mv -- "$4" "$1"');
    expect(() => removeLockIf(dir, text, 'a b')).toThrow(/nonce/);
  });
  it('compare-and-swap (heartbeat, take-over): replaces the details by rename only if they still match', () => {
    const c = replaceLockDetailsIf(dir, 'old\n', 'new\n');
    expect(c.argv.slice(3)).toEqual(['sh', `${dir}/lock`, `${dir}/lock/details.json`, 'old', 'new']);
    expect(c.argv[2]).toContain(`exit ${LOCK_EXIT.notOurs}`);
    expect(c.argv[2]).toContain('mv -f -- "$t" "$2"');
  });
  it('lock age: mtime and now by the NAS clock, falling back to the lock dir', () => {
    const c = lockAge(dir);
    expect(c.argv.slice(3)).toEqual(['sh', `${dir}/lock/details.json`, `${dir}/lock`]);
    expect(parseLockAge('1700000000 1700000012\n')).toBe(12_000);
    expect(parseLockAge('1700000012 1700000000')).toBe(0);
    expect(parseLockAge('garbage')).toBeUndefined();
  });
  it('ensure state dir', () => {
    expect(ensureStateDirArgv(dir)).toEqual(['mkdir', '-p', '--', dir]);
  });
  it('refuses state dirs that would make rm -rf dangerous', () => {
    for (const bad of ['', 'relative/dir', '/', '//', '/a/../b', '/a/./b', '/a\nb', '/a\0b']) {
      expect(() => removeLockArgv(bad), JSON.stringify(bad)).toThrow();
      expect(() => mkdirLockArgv(bad), JSON.stringify(bad)).toThrow();
    }
    expect(assertStateDir('/x/y/')).toBe('/x/y');
  });
});

describe('lock liveness', () => {
  it('a lock is live while its heartbeat is younger than the stale limit; unknown age counts as live', () => {
    expect(lockIsLive({ held: false, ageMs: undefined }, 15_000)).toBe(false);
    expect(lockIsLive({ held: true, ageMs: 2_000 }, 15_000)).toBe(true);
    expect(lockIsLive({ held: true, ageMs: 15_000 }, 15_000)).toBe(false);
    expect(lockIsLive({ held: true, ageMs: undefined }, 15_000)).toBe(true);
  });
  it('names the holder: who, host, pid, operation, since, last beat', () => {
    const line = describeHolder({ ...details, heartbeatAt: '2026-11-21T10:00:05.000Z' }, 4_200);
    for (const part of ['token:ab12', 'mcp-host', '4242', 'deploy op-1', '2026-11-21T10:00:00.000Z', '4 s ago', '10:00:05']) expect(line).toContain(part);
    expect(describeHolder(undefined, undefined)).toMatch(/unknown holder/);
  });
});

describe('lock details', () => {
  it('LockHeldError names the holder', () => {
    const e = new LockHeldError(details);
    expect(e.message).toContain('token:ab12');
    expect(e.message).toContain('op-1');
    expect(e.hint).toMatch(/release_lock/);
  });
});
