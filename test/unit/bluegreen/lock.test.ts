import { describe, expect, it } from 'vitest';
import {
  assertStateDir,
  ensureStateDirArgv,
  LOCK_HELD_EXIT,
  mkdirLockArgv,
  parseLockDetails,
  removeLockArgv,
  removeLockIfArgv,
  serializeLockDetails,
} from '../../../src/bluegreen/lock.js';
import { LockHeldError, type LockDetails } from '../../../src/bluegreen/types.js';

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
  it('conditional remove compares the details file with what was read (trailing newlines stripped)', () => {
    const text = serializeLockDetails(details);
    const argv = removeLockIfArgv(dir, text);
    expect(argv.slice(3)).toEqual(['sh', `${dir}/lock`, `${dir}/lock/details.json`, text.trimEnd()]);
    expect(argv[2]).toContain('rm -rf -- "$1"');
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

describe('lock details', () => {
  it('serialise to one JSON line and parse back', () => {
    const text = serializeLockDetails(details);
    expect(text.endsWith('\n')).toBe(true);
    expect(text.trimEnd()).not.toContain('\n');
    expect(parseLockDetails(text)).toEqual(details);
  });
  it('torn or foreign details parse to undefined', () => {
    expect(parseLockDetails('{"operationId":"op-1","oper')).toBeUndefined();
    expect(parseLockDetails('{"a":1}')).toBeUndefined();
    expect(parseLockDetails('null')).toBeUndefined();
    expect(parseLockDetails(undefined)).toBeUndefined();
  });
  it('LockHeldError names the holder', () => {
    const e = new LockHeldError(details);
    expect(e.message).toContain('token:ab12');
    expect(e.message).toContain('op-1');
    expect(e.hint).toMatch(/release_lock/);
  });
});
