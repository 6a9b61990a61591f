import { describe, expect, it } from 'vitest';
import { describeProbe, probeVerdict, waitHealthy } from '../../../src/bluegreen/health-gate.js';
import { NGINX_OUTPUT_MAX, NGINX_PROCS_ARGV, oldWorkersGone, oldWorkersRetired, parseNginxProcs, trimNginxOutput } from '../../../src/bluegreen/nginx.js';
import type { HttpProbe } from '../../../src/ssh/nas-http.js';
import type { SshPool } from '../../../src/ssh/pool.js';

const probe = (o: Partial<HttpProbe>): HttpProbe => ({ ok: false, status: undefined, latencyMs: 1, body: '', error: undefined, ...o });

describe('nginx helpers', () => {
  it('nginx output is trimmed to 1 KB', () => {
    expect(trimNginxOutput('  nginx: [emerg] x\r\n')).toBe('nginx: [emerg] x');
    const t = trimNginxOutput('e'.repeat(5000));
    expect(t.length).toBe(NGINX_OUTPUT_MAX);
    expect(t.endsWith('…')).toBe(true);
  });
});

describe('health gate', () => {
  it('classifies probes', () => {
    expect(probeVerdict(probe({ ok: true, status: 200 }))).toBe('healthy');
    expect(probeVerdict(probe({ status: 500 }))).toBe('unhealthy');
    expect(probeVerdict(probe({ error: 'socket hang up' }))).toBe('not_listening');
    expect(probeVerdict(probe({ error: 'read ECONNRESET' }))).toBe('not_listening');
    expect(probeVerdict(probe({ error: 'no answer within 2000 ms' }))).toBe('timeout');
    expect(describeProbe(probe({ error: 'socket hang up' }))).toMatch(/not listening yet/);
  });
  it('refuses a nonsensical gate before probing', async () => {
    const pool = {} as SshPool;
    await expect(waitHealthy(pool, { host: '127.0.0.1', port: 1, path: '/' }, { attempts: 0, intervalMs: 1, successThreshold: 1, timeoutMs: 1 })).rejects.toThrow(/attempts/);
    await expect(waitHealthy(pool, { host: '127.0.0.1', port: 1, path: '/' }, { attempts: 1, intervalMs: 1, successThreshold: 0, timeoutMs: 1 })).rejects.toThrow(/successThreshold/);
  });
});

describe('nginx cut-over detection', () => {
  const ps = (lines: string[]) => parseNginxProcs(lines.join('\n'));
  const master = '100 1 nginx: master process /usr/bin/nginx ';
  it('parses the /proc listing (padded titles, other lines ignored)', () => {
    expect(ps([master, '101 100 nginx: worker process                    ', 'garbage', '7 1 sshd: x'])).toEqual([
      { pid: 100, ppid: 1, title: 'nginx: master process /usr/bin/nginx' },
      { pid: 101, ppid: 100, title: 'nginx: worker process' },
    ]);
  });
  it('the listing script is fixed and needs no sudo', () => {
    expect(NGINX_PROCS_ARGV.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(NGINX_PROCS_ARGV).toHaveLength(3);
  });
  it('waits for a new worker, then for the old ones of that master to stop accepting', () => {
    const before = ps([master, '101 100 nginx: worker process', '500 400 nginx: worker process']);
    // Reload not visible yet.
    expect(oldWorkersRetired(before, before)).toBeUndefined();
    // New worker forked, old one still accepting (nginx's 100 ms overlap).
    expect(oldWorkersRetired(before, ps([master, '101 100 nginx: worker process', '102 100 nginx: worker process', '500 400 nginx: worker process']))).toBe(false);
    // Old one shutting down: done. The unrelated nginx (master 400, e.g. in a container) does not matter.
    expect(oldWorkersRetired(before, ps([master, '101 100 nginx: worker process is shutting down', '102 100 nginx: worker process', '500 400 nginx: worker process']))).toBe(true);
    // Old one gone: done.
    expect(oldWorkersRetired(before, ps([master, '102 100 nginx: worker process', '500 400 nginx: worker process']))).toBe(true);
  });
  it('then for the old workers of that master to exit (every request they had accepted answered)', () => {
    const before = ps([master, '101 100 nginx: worker process', '500 400 nginx: worker process']);
    expect(oldWorkersGone(before, before)).toBeUndefined();
    // Shutting down still answers what it had accepted: not gone.
    expect(oldWorkersGone(before, ps([master, '101 100 nginx: worker process is shutting down', '102 100 nginx: worker process', '500 400 nginx: worker process']))).toBe(false);
    // Exited (the unrelated master 400's worker does not matter); a zombie's empty title counts as exited.
    expect(oldWorkersGone(before, ps([master, '102 100 nginx: worker process', '500 400 nginx: worker process']))).toBe(true);
    expect(oldWorkersGone(before, [...ps([master, '102 100 nginx: worker process']), { pid: 101, ppid: 100, title: '' }])).toBe(true);
  });
});
