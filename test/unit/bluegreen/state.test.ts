import { describe, expect, it } from 'vitest';
import { parseJson, parseJsonLines } from '../../../src/bluegreen/nas-state.js';
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

describe('NAS state parsers', () => {
  it('skip a torn last line of the history instead of failing', () => {
    expect(parseJsonLines<{ id: number }>('{"id":1}\n{"id":2}\n{"to').map((h) => h.id)).toEqual([1, 2]);
    expect(parseJsonLines(undefined)).toEqual([]);
  });
  it('parse JSON or give undefined', () => {
    expect(parseJson('{"a":1}')).toEqual({ a: 1 });
    expect(parseJson('{"a":')).toBeUndefined();
    expect(parseJson(undefined)).toBeUndefined();
  });
});
