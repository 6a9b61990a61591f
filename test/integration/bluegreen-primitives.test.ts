/**
 * The blue-green primitives against the sandbox NAS: the mkdir lock, the
 * journal and history, the nginx switch, the health gate. The sandbox is
 * reset before and after (blue live, state dir empty).
 */
import { request } from 'node:http';
import { posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitHealthy } from '../../src/bluegreen/health-gate.js';
import { HISTORY_KEEP_LINES, HISTORY_MAX_LINES, historyFile, historyLine, type HistoryRecord, journalFile, type LockDetails, lockDir, serializeLockDetails, upstreamPrevFile } from '../../src/domain/index.js';
import { appendHistory, Journal, readHistory, readJournal, writeJournal } from '../../src/bluegreen/journal.js';
import { acquireLock, inspectLock, readLock, releaseLockIf, swapLockDetails } from '../../src/bluegreen/lock.js';
import { readUpstream, restorePreviousUpstream, switchUpstream, UpstreamSwitchError } from '../../src/bluegreen/nginx.js';
import { LockHeldError } from '../../src/bluegreen/types.js';
import type { Config } from '../../src/config.js';
import { readSmallFiles, writeFileAtomic } from '../../src/ssh/files.js';
import { ExecAbortedError } from '../../src/ssh/errors.js';
import type { SshPool } from '../../src/ssh/pool.js';
import { adminPool, sandboxConfig, sandboxPool } from '../helpers/nas.js';
import { getSandbox, resetSandbox, sandboxSkipReason } from '../helpers/sandbox.js';

const sb = getSandbox();

/** GET through the sandbox's nginx front, a fresh connection each time (no keep-alive to an old worker). */
function frontHealth(): Promise<{ status: number; color: string | undefined }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: 8082, path: '/health', agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => {
        let color: string | undefined;
        try {
          color = (JSON.parse(body) as { color?: string }).color;
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, color });
      });
    });
    req.on('error', () => resolve({ status: 0, color: undefined }));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

const frontColor = async () => (await frontHealth()).color;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe.skipIf(!sb)(`blue-green primitives on the sandbox NAS${sb ? '' : ` (skipped: ${sandboxSkipReason()})`}`, () => {
  let pool: SshPool;
  let config: Config;
  /** A private state dir for the lock/journal/history tests (concurrent runs do not collide). */
  let dir: string;
  const greenName = sb?.app.containers.green ?? 'loop-api-green';

  const details = (operationId: string, holder = 'test-holder'): LockDetails => ({
    operationId,
    operation: 'deploy',
    holder,
    since: new Date().toISOString(),
    host: 'vitest',
    pid: process.pid,
  });

  // Fixtures (docker run/rm, a root-owned dir) are made as the full-sudo admin: not the product's root commands.
  let admin: SshPool;
  const docker = (args: string[]) => admin.run([sb!.dockerBinary, ...args], { sudo: true, timeoutMs: 60_000 });
  /** The product's root commands for a config variant, run as the full-sudo admin. */
  const withRootPool = async <T>(c: Config, fn: (p: SshPool) => Promise<T>): Promise<T> => {
    const p = adminPool([], { config: c });
    try {
      return await fn(p);
    } finally {
      await p.close();
    }
  };

  beforeAll(async () => {
    resetSandbox(sb!, sb!.lane);
    config = sandboxConfig().config;
    pool = sandboxPool();
    admin = adminPool([sb!.dockerBinary, '/bin/sh', '/bin/rm']);
    dir = posix.join(config.state.dir, `test-primitives-${process.pid}`);
  });

  afterAll(async () => {
    try {
      if (admin) await admin.exec([sb!.dockerBinary, 'rm', '-f', greenName], { sudo: true, timeoutMs: 60_000 }).catch(() => {});
      await pool?.close();
      await admin?.close();
    } finally {
      resetSandbox(sb!, sb!.lane);
    }
  });

  describe('lock', () => {
    it('acquire → held, names the holder → a compare-and-delete with other details does nothing → its own text frees', async () => {
      expect(await readLock(pool, dir)).toBeUndefined();
      const mine = await acquireLock(pool, dir, details('op-a', 'alice'));
      expect(await readLock(pool, dir)).toMatchObject({ operationId: 'op-a', holder: 'alice' });

      const err = await acquireLock(pool, dir, details('op-b', 'bob')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LockHeldError);
      expect((err as LockHeldError).details).toMatchObject({ operationId: 'op-a', holder: 'alice' });
      expect((err as LockHeldError).message).toContain('alice');

      expect(await releaseLockIf(pool, dir, serializeLockDetails(details('op-b', 'bob')))).toBe(false);
      expect(await readLock(pool, dir)).toMatchObject({ operationId: 'op-a' });

      expect(await releaseLockIf(pool, dir, mine)).toBe(true);
      expect(await readLock(pool, dir)).toBeUndefined();
      expect(await inspectLock(pool, dir)).toMatchObject({ held: false });
      // Releasing a free lock is not an error.
      expect(await releaseLockIf(pool, dir, mine)).toBe(false);
    });

    it('heartbeat: compare-and-swap refreshes our own lock, and fails once it changed hands', async () => {
      const first = await acquireLock(pool, dir, details('op-c', 'carol'));
      const s1 = await swapLockDetails(pool, dir, first, { ...details('op-c', 'carol'), heartbeatAt: new Date().toISOString() });
      expect(s1.outcome).toBe('swapped');
      const st = await inspectLock(pool, dir);
      expect(st.raw).toBe(s1.text);
      expect(st.ageMs).toBeGreaterThanOrEqual(0);
      // A take-over (recover) swaps in new details: the old holder's next beat finds it not ours.
      const taken = await swapLockDetails(pool, dir, s1.text, details('op-c', 'recoverer'));
      expect(taken.outcome).toBe('swapped');
      expect((await swapLockDetails(pool, dir, s1.text, details('op-c', 'carol'))).outcome).toBe('not_ours');
      expect(await releaseLockIf(pool, dir, s1.text)).toBe(false);
      expect(await readLock(pool, dir)).toMatchObject({ holder: 'recoverer' });
      expect(await releaseLockIf(pool, dir, taken.text)).toBe(true);
      expect((await swapLockDetails(pool, dir, taken.text, details('op-c'))).outcome).toBe('free');
    });

    it('10 concurrent acquires: exactly one wins, the others are told who holds it', async () => {
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => acquireLock(pool, dir, details(`op-race-${i}`, `racer-${i}`))));
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(won).toHaveLength(1);
      const holder = await readLock(pool, dir);
      expect(holder?.operationId).toBe(`op-race-${won[0]}`);
      for (const r of results) {
        if (r.status === 'fulfilled') continue;
        expect(r.reason).toBeInstanceOf(LockHeldError);
        expect((r.reason as LockHeldError).details?.operationId).toBe(holder!.operationId);
      }
      const text = (results[won[0]!] as PromiseFulfilledResult<string>).value;
      expect(await releaseLockIf(pool, dir, text)).toBe(true);
    });

    it('a lock dir without details is held (unreadable), ages by its directory, and only an empty compare removes it', async () => {
      await pool.run(['mkdir', '-p', '--', lockDir(dir)]);
      expect(await inspectLock(pool, dir)).toMatchObject({ held: true, details: undefined, raw: undefined });
      expect((await inspectLock(pool, dir)).ageMs).toBeGreaterThanOrEqual(0);
      expect(await readLock(pool, dir)).toBeUndefined();
      const err = await acquireLock(pool, dir, details('op-e')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LockHeldError);
      expect((err as LockHeldError).details).toBeUndefined();
      expect(await releaseLockIf(pool, dir, serializeLockDetails(details('op-e')))).toBe(false);
      expect(await releaseLockIf(pool, dir, '')).toBe(true);
      expect(await inspectLock(pool, dir)).toMatchObject({ held: false });
    });
  });

  describe('journal and history', () => {
    it('writes and reads the journal through its phases', async () => {
      const j = new Journal(pool, dir, { operationId: 'd-1', kind: 'deploy', detail: { fromColor: 'blue' } });
      await j.phase('build', { image: 'loop-api:1.1.0' });
      let e = await readJournal(pool, dir);
      expect(e).toMatchObject({ operationId: 'd-1', kind: 'deploy', phase: 'build', finished: false, detail: { fromColor: 'blue', image: 'loop-api:1.1.0' } });
      // Phases written without awaiting each land in order.
      void j.phase('start', { container: 'loop-api-green' });
      void j.phase('health');
      await j.phase('switch', { toColor: 'green' });
      await j.finish('done');
      e = await readJournal(pool, dir);
      expect(e).toMatchObject({ phase: 'done', finished: true, detail: { fromColor: 'blue', image: 'loop-api:1.1.0', container: 'loop-api-green', toColor: 'green' } });
      expect(Date.parse(e!.updatedAt)).toBeGreaterThanOrEqual(Date.parse(e!.startedAt));
      await writeJournal(pool, dir, { ...e!, phase: 'verify', finished: false });
      expect((await readJournal(pool, dir))?.phase).toBe('verify');
    });

    it('a torn journal reads as undefined', async () => {
      await writeFileAtomic(pool, journalFile(dir), '{"operationId":"d-2","kind":"dep');
      expect(await readJournal(pool, dir)).toBeUndefined();
    });

    it('20 concurrent appends → 20 intact lines', async () => {
      await pool.run(['rm', '-f', '--', historyFile(dir)]);
      const recs: HistoryRecord[] = Array.from({ length: 20 }, (_, i) => ({
        id: `h-${i}`,
        kind: 'deploy',
        fromColor: 'blue',
        toColor: 'green',
        image: `loop-api:1.0.${i}`,
        version: `1.0.${i}`,
        commit: null,
        who: 'test',
        startedAt: new Date().toISOString(),
        endedAt: new Date().toISOString(),
        outcome: 'succeeded',
        // Long lines make interleaving visible if appends were not atomic.
        message: String.fromCharCode(97 + i).repeat(3000 + i * 50),
      }));
      await Promise.all(recs.map((r) => appendHistory(pool, dir, r)));
      const [raw] = await readSmallFiles(pool, [{ path: historyFile(dir), maxBytes: 1_000_000 }]);
      const lines = raw!.split('\n').filter(Boolean);
      expect(lines).toHaveLength(20);
      const parsed = lines.map((l) => JSON.parse(l) as HistoryRecord);
      expect(new Set(parsed.map((p) => p.id))).toEqual(new Set(recs.map((r) => r.id)));
      for (const p of parsed) {
        const i = Number(p.id.slice(2));
        expect(p).toEqual(JSON.parse(historyLine(recs[i]!)));
      }
      const newest = await readHistory(pool, dir, 5);
      expect(newest).toHaveLength(5);
      expect(newest[0]!.id).toBe(parsed[parsed.length - 1]!.id);
    });

    it('keeps the history bounded: past 1000 lines it keeps the last 500', async () => {
      const base = { kind: 'deploy', fromColor: null, toColor: null, image: null, version: null, commit: null, who: null, startedAt: 'x', endedAt: null, outcome: 'succeeded', message: null } as const;
      const text = Array.from({ length: HISTORY_MAX_LINES }, (_, i) => JSON.stringify({ ...base, id: `old-${i}` })).join('\n') + '\n';
      await writeFileAtomic(pool, historyFile(dir), text);
      const r = await appendHistory(pool, dir, { ...base, id: 'new-1' });
      expect(r.trimmed).toBe(true);
      const [raw] = await readSmallFiles(pool, [{ path: historyFile(dir), maxBytes: 1_000_000 }]);
      const lines = raw!.split('\n').filter(Boolean);
      expect(lines).toHaveLength(HISTORY_KEEP_LINES);
      expect(JSON.parse(lines[lines.length - 1]!).id).toBe('new-1');
      expect(JSON.parse(lines[0]!).id).toBe(`old-${HISTORY_MAX_LINES - HISTORY_KEEP_LINES + 1}`);
      const h = await readHistory(pool, dir, 3);
      expect(h.map((x) => x.id)).toEqual(['new-1', `old-${HISTORY_MAX_LINES - 1}`, `old-${HISTORY_MAX_LINES - 2}`]);
      // No temp file left behind.
      const ls = await pool.run(['ls', '-A', '--', dir]);
      expect(ls.stdout).not.toMatch(/trim/);
    });

    it('appending creates a missing state dir', async () => {
      const fresh = posix.join(dir, 'fresh', 'sub');
      await appendHistory(pool, fresh, { id: 'x', kind: 'deploy', fromColor: null, toColor: null, image: null, version: null, commit: null, who: null, startedAt: 'x', endedAt: null, outcome: 'failed', message: 'm' });
      expect((await readHistory(pool, fresh, 10)).map((h) => h.id)).toEqual(['x']);
      await new Journal(pool, posix.join(dir, 'fresh2'), { operationId: 'j', kind: 'deploy' }).phase('start');
      expect((await readJournal(pool, posix.join(dir, 'fresh2')))?.operationId).toBe('j');
      await pool.run(['rm', '-rf', '--', dir]);
    });
  });

  describe('health gate', () => {
    it('a running color passes in 1 attempt', async () => {
      const seen: number[] = [];
      const r = await waitHealthy(
        pool,
        { host: '127.0.0.1', port: config.app.colorPorts.blue, path: config.app.healthPath },
        { attempts: 5, intervalMs: 500, successThreshold: 1, timeoutMs: 3000 },
        { onAttempt: (n) => seen.push(n) },
      );
      expect(r).toMatchObject({ ok: true, attempts: 1 });
      expect(r.last?.status).toBe(200);
      expect(seen).toEqual([1]);
    });

    it('successThreshold counts consecutive successes', async () => {
      const r = await waitHealthy(
        pool,
        { host: '127.0.0.1', port: config.app.colorPorts.blue, path: config.app.healthPath },
        { attempts: 5, intervalMs: 100, successThreshold: 3, timeoutMs: 3000 },
      );
      expect(r).toMatchObject({ ok: true, attempts: 3 });
    });

    it('nothing listening: fails after exactly N attempts', async () => {
      const N = 3;
      const interval = 1000;
      const r = await waitHealthy(pool, { host: '127.0.0.1', port: 18097, path: '/health' }, { attempts: N, intervalMs: interval, successThreshold: 1, timeoutMs: 2000 });
      expect(r.ok).toBe(false);
      expect(r.attempts).toBe(N);
      expect(r.last?.ok).toBe(false);
      // The waits between attempts happened (a lower bound that a busy machine can't break);
      // how long it took on top of that belongs in bench/, not here.
      expect(r.elapsedMs).toBeGreaterThanOrEqual((N - 1) * interval);
    });

    it('is abortable', async () => {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 300);
      // 30 attempts × 1 s would outlive the test's 15 s timeout: returning at all means the abort worked.
      const err = await waitHealthy(
        pool,
        { host: '127.0.0.1', port: 18097, path: '/health' },
        { attempts: 30, intervalMs: 1000, successThreshold: 1, timeoutMs: 2000 },
        { signal: ac.signal },
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ExecAbortedError);
    }, 15_000);
  });

  describe('nginx switch', () => {
    let initial: string;

    beforeAll(async () => {
      await admin.exec([sb!.dockerBinary, 'rm', '-f', greenName], { sudo: true, timeoutMs: 60_000 });
      await docker([
        'run', '-d', '--name', greenName, '--network', sb!.app.network,
        '-p', `127.0.0.1:${sb!.app.colorPorts.green}:${sb!.app.containerPort}`,
        '-e', 'COLOR=green', '-v', `${sb!.app.vaultDir}:${sb!.app.vaultMount}`,
        '--label', `loop-ops.app=${sb!.app.name}`, '--label', 'loop-ops.color=green',
        sb!.app.initialImage,
      ]);
      const g = await waitHealthy(
        pool,
        { host: '127.0.0.1', port: config.app.colorPorts.green, path: config.app.healthPath },
        { attempts: 60, intervalMs: 250, successThreshold: 1, timeoutMs: 2000 },
      );
      expect(g.ok).toBe(true);
      const u = await readUpstream(pool, config);
      expect(u.info.color).toBe('blue');
      initial = u.text!;
      expect(await frontColor()).toBe('blue');
    });

    it('switches blue → green → blue; a switch to the live color is a no-op', async () => {
      const r = await switchUpstream(pool, config, 'green', 'test-sw-1');
      expect(r).toMatchObject({ changed: true, previousColor: 'blue' });
      expect(r.testOutput).toMatch(/test is successful/);
      expect(await frontColor()).toBe('green');
      const u = await readUpstream(pool, config);
      expect(u.info).toMatchObject({ color: 'green', deploymentId: 'test-sw-1' });
      const [prev] = await readSmallFiles(pool, [{ path: upstreamPrevFile(config.state.dir), maxBytes: 65536 }]);
      expect(prev).toBe(initial);

      const noop = await switchUpstream(pool, config, 'green', 'test-sw-2');
      expect(noop).toMatchObject({ changed: false, previousColor: 'green', testOutput: '' });
      expect((await readUpstream(pool, config)).info.deploymentId).toBe('test-sw-1');

      const back = await switchUpstream(pool, config, 'blue', 'test-sw-3');
      expect(back).toMatchObject({ changed: true, previousColor: 'green' });
      expect(await frontColor()).toBe('blue');
      expect((await switchUpstream(pool, config, 'blue', 'test-sw-4')).changed).toBe(false);
    });

    it('when a switch returns, new connections reach the target (switch times printed; bench/deploy.bench.ts measures them)', async () => {
      const times: number[] = [];
      const cutovers: number[] = [];
      for (let i = 0; i < 3; i++) {
        for (const color of ['green', 'blue'] as const) {
          const r = await switchUpstream(pool, config, color, `test-time-${i}-${color}`);
          expect(r.changed).toBe(true);
          // nginx's old workers have stopped accepting: the very next request sees the new color.
          const seen = await Promise.all([frontColor(), frontColor(), frontColor()]);
          expect(seen).toEqual([color, color, color]);
          times.push(r.durationMs);
          expect(r.cutoverMs).toBeDefined();
          cutovers.push(r.cutoverMs!);
        }
      }
      console.log(
        `switchUpstream start→reload returned: median ${median(times).toFixed(0)} ms (${times.map((t) => t.toFixed(0)).join(', ')}); ` +
          `start→old nginx workers stopped accepting: median ${median(cutovers).toFixed(0)} ms (${cutovers.map((t) => t.toFixed(0)).join(', ')})`,
      );
    });

    it('nginx -t failing: throws with its output and a hint, file restored, traffic unchanged', async () => {
      const before = (await readUpstream(pool, config)).text;
      const broken: Config = { ...config, nginx: { ...config.nginx, testCommand: ['/usr/sbin/nginx', '-c', '/nonexistent/loop-ops-test.conf', '-t'] } };
      // nginx commands the sandbox's scoped sudoers does not name: run by the full-sudo admin (its pool allows exactly these).
      const err = await withRootPool(broken, (p) => switchUpstream(p, broken, 'green', 'test-broken-1')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstreamSwitchError);
      const e = err as UpstreamSwitchError;
      expect(e.stage).toBe('test');
      expect(e.restored).toBe(true);
      expect(e.message).toMatch(/nginx rejected/);
      expect(e.message).toContain('/nonexistent/loop-ops-test.conf');
      expect(e.output.length).toBeLessThanOrEqual(1024);
      expect(e.hint).toBeTruthy();
      expect((await readUpstream(pool, config)).text).toBe(before);
      expect(await frontColor()).toBe('blue');

      const alwaysFalse: Config = { ...config, nginx: { ...config.nginx, testCommand: ['/bin/false'] } };
      const err2 = (await withRootPool(alwaysFalse, (p) => switchUpstream(p, alwaysFalse, 'green', 'test-broken-2')).catch((x: unknown) => x)) as UpstreamSwitchError;
      expect(err2).toBeInstanceOf(UpstreamSwitchError);
      expect(err2.stage).toBe('test');
      expect((await readUpstream(pool, config)).text).toBe(before);
      expect(await frontColor()).toBe('blue');
    });

    it('reload failing: throws, file restored, traffic unchanged', async () => {
      const before = (await readUpstream(pool, config)).text;
      const broken: Config = { ...config, nginx: { ...config.nginx, reloadCommand: ['/bin/false'] } };
      const err = (await withRootPool(broken, (p) => switchUpstream(p, broken, 'green', 'test-broken-3')).catch((e: unknown) => e)) as UpstreamSwitchError;
      expect(err).toBeInstanceOf(UpstreamSwitchError);
      expect(err.stage).toBe('reload');
      expect(err.message).toMatch(/reload failed/);
      expect((await readUpstream(pool, config)).text).toBe(before);
      expect(await frontColor()).toBe('blue');
    });

    it('refuses a deployment id that could inject into the file', async () => {
      await expect(switchUpstream(pool, config, 'green', 'x;\nserver 10.0.0.1:80')).rejects.toThrow(/deployment id/);
      expect((await readUpstream(pool, config)).info.color).toBe('blue');
    });

    it('writes an upstream file the SSH user may not write through sudo', async () => {
      const rootDir = `/tmp/loop-ops-test-root-${process.pid}`;
      const file = `${rootDir}/upstream.conf`;
      await admin.run(['/bin/sh', '-c', 'rm -rf -- "$1" && mkdir -m 755 -- "$1" && printf "server 127.0.0.1:%s;\\n" "$2" > "$1/upstream.conf"', 'sh', rootDir, String(config.app.colorPorts.blue)], { sudo: true });
      try {
        const c: Config = {
          ...config,
          state: { dir: posix.join(config.state.dir, `test-sudo-${process.pid}`) },
          nginx: { ...config.nginx, upstreamFile: file, testCommand: ['/bin/true'], reloadCommand: ['/bin/true'] },
        };
        // The sandbox's scoped sudoers names the real upstream file, not this one: the full-sudo admin runs
        // the product's own root commands for this config (its pool allows exactly those).
        const rootPool = adminPool([], { config: c });
        const r = await switchUpstream(rootPool, c, 'green', 'test-sudo-1');
        expect(r).toMatchObject({ changed: true, previousColor: 'blue' });
        expect((await readUpstream(pool, c)).info.color).toBe('green');
        const owner = await pool.run(['stat', '-c', '%U %a', file]);
        expect(owner.stdout.trim()).toBe('root 644');
        // The failure path restores through sudo too.
        const err = await switchUpstream(rootPool, { ...c, nginx: { ...c.nginx, testCommand: ['/bin/false'] } }, 'blue', 'test-sudo-2').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(UpstreamSwitchError);
        expect((await readUpstream(rootPool, c)).info).toMatchObject({ color: 'green', deploymentId: 'test-sudo-1' });
        await rootPool.close();
      } finally {
        await admin.run(['/bin/rm', '-rf', '--', rootDir], { sudo: true });
      }
    });

    it('a file that cannot be written: throws at the write stage, nothing reloaded', async () => {
      const c: Config = {
        ...config,
        state: { dir: posix.join(config.state.dir, `test-nowrite-${process.pid}`) },
        nginx: { ...config.nginx, upstreamFile: `/nonexistent-loop-ops-${process.pid}/upstream.conf`, reloadCommand: ['/bin/false'] },
      };
      const err = (await switchUpstream(pool, c, 'green', 'test-nowrite').catch((e: unknown) => e)) as UpstreamSwitchError;
      expect(err).toBeInstanceOf(UpstreamSwitchError);
      expect(err).toMatchObject({ stage: 'write', restored: true });
      expect(err.hint).toMatch(/traffic is unchanged/);
      expect(await frontColor()).toBe('blue');
    });

    it('restorePreviousUpstream puts the saved file back, idempotently', async () => {
      const before = (await readUpstream(pool, config)).text;
      await switchUpstream(pool, config, 'green', 'test-restore-1');
      expect(await frontColor()).toBe('green');
      const r = await restorePreviousUpstream(pool, config);
      expect(r).toMatchObject({ changed: true, color: 'blue', previousColor: 'green' });
      expect(r.cutoverMs).toBeDefined();
      expect((await readUpstream(pool, config)).text).toBe(before);
      expect(await frontColor()).toBe('blue');
      const again = await restorePreviousUpstream(pool, config);
      expect(again).toMatchObject({ changed: false, color: 'blue', previousColor: 'blue' });
      expect(await frontColor()).toBe('blue');
    });
  });
});
