import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJsonLines, parseSnapshot, snapshotArgv } from '../../../src/bluegreen/nas-state.js';
import { parseUpstream, renderUpstream } from '../../../src/bluegreen/upstream.js';

const ports = { blue: 18081, green: 18082 };

describe('upstream file', () => {
  it('round-trips: what we render parses back to the same color', () => {
    const text = renderUpstream({ app: 'loop-api', color: 'green', ports, deploymentId: 'd-20261121-1', at: new Date(0) });
    expect(parseUpstream(text, ports)).toEqual({ color: 'green', servers: ['127.0.0.1:18082'], deploymentId: 'd-20261121-1' });
  });
  it('reads a hand-written file; ignores comments, backup and down servers', () => {
    const text = '# server 127.0.0.1:18082;\nserver 127.0.0.1:18081 max_fails=1;\nserver 127.0.0.1:18082 backup;\n';
    expect(parseUpstream(text, ports).color).toBe('blue');
  });
  it('reports no color when the file names both or neither', () => {
    expect(parseUpstream('server 127.0.0.1:18081;\nserver 127.0.0.1:18082;', ports).color).toBeUndefined();
    expect(parseUpstream('server 10.0.0.1:9999;', ports)).toMatchObject({ color: undefined, servers: ['10.0.0.1:9999'] });
    expect(parseUpstream('', ports).color).toBeUndefined();
  });
});

describe('NAS state snapshot', () => {
  it('runs for real in a local shell and splits into sections', () => {
    const dir = mkdtempSync(join(tmpdir(), 'state-'));
    mkdirSync(join(dir, 'lock'));
    writeFileSync(join(dir, 'lock', 'details.json'), '{"holder":"x"}');
    writeFileSync(join(dir, 'history.jsonl'), '{"id":1}\n{"id":2}\n{"id":3}\n{"torn');
    writeFileSync(join(dir, 'up.conf'), 'server 127.0.0.1:18081;\n');
    const { argv, boundary } = snapshotArgv({ upstreamFile: join(dir, 'up.conf'), stateDir: dir }, 3);
    const out = execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    const snap = parseSnapshot(out, boundary);
    expect(snap.complete).toBe(true);
    expect(parseUpstream(snap.upstream!, ports).color).toBe('blue');
    expect(JSON.parse(snap.lock!)).toEqual({ holder: 'x' });
    expect(snap.journal).toBeUndefined();
    expect(parseJsonLines<{ id: number }>(snap.history).map((h) => h.id)).toEqual([2, 3]);
  });
  it('marks a cut-off answer as incomplete', () => {
    expect(parseSnapshot('B upstream\nserver x;\n', 'B')).toMatchObject({ complete: false, upstream: 'server x;' });
  });
});
