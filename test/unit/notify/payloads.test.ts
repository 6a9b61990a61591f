import { describe, expect, it } from 'vitest';
import {
  buildPayload,
  discordPayload,
  formatDurationMs,
  jsonPayload,
  ntfyPayload,
  slackPayload,
  summaryLine,
  type OperationNotice,
} from '../../../src/notify/payloads.js';

const deploy: OperationNotice = {
  operationId: 'deploy-20261206-031500-ab12',
  kind: 'deploy',
  app: 'loop-api',
  target: 'prod',
  host: 'nas.local',
  who: 'token:0a1b2c3d4e5f',
  outcome: 'succeeded',
  fromColor: 'blue',
  toColor: 'green',
  version: '1.1.0',
  fromVersion: '1.0.0',
  toVersion: '1.1.0',
  image: 'loop-api:20261206031500-abc1234',
  commit: 'abc1234def5678',
  message: null,
  startedAt: '2026-12-06T03:15:00.000Z',
  endedAt: '2026-12-06T03:15:12.800Z',
  durationMs: 12_800,
};

const hostile: OperationNotice = {
  ...deploy,
  outcome: 'rolled_back',
  message: 'build said: <!channel> @everyone <https://evil.example|click> ' + 'x'.repeat(2000),
};

describe('summaryLine', () => {
  it('names app, kind, outcome, target, both sides, duration and who', () => {
    expect(summaryLine(deploy)).toBe('loop-api deploy succeeded on prod (nas.local): blue 1.0.0 → green 1.1.0 in 12.8 s (by token:0a1b2c3d4e5f)');
  });

  it("the single-NAS file's target is named by its host alone", () => {
    expect(summaryLine({ ...deploy, target: 'default' })).toMatch(/^loop-api deploy succeeded on nas\.local: /);
  });

  it('a restart stays on one color', () => {
    const r = { ...deploy, kind: 'restart', fromColor: 'blue', toColor: 'blue', fromVersion: '1.0.0', toVersion: '1.0.0', durationMs: 900 };
    expect(summaryLine(r)).toBe('loop-api restart succeeded on prod (nas.local): blue 1.0.0 in 900 ms (by token:0a1b2c3d4e5f)');
  });

  it('durations read naturally', () => {
    expect([formatDurationMs(5), formatDurationMs(1_500), formatDurationMs(125_000)]).toEqual(['5 ms', '1.5 s', '2 min 5 s']);
  });
});

describe('json format', () => {
  it('carries every fact under stable names', () => {
    const r = jsonPayload(deploy);
    expect(r.headers['content-type']).toBe('application/json');
    expect(JSON.parse(r.body)).toEqual({
      event: 'operation.finished',
      operationId: deploy.operationId,
      kind: 'deploy',
      outcome: 'succeeded',
      app: 'loop-api',
      target: 'prod',
      host: 'nas.local',
      who: 'token:0a1b2c3d4e5f',
      fromColor: 'blue',
      toColor: 'green',
      fromVersion: '1.0.0',
      toVersion: '1.1.0',
      image: deploy.image,
      commit: deploy.commit,
      startedAt: deploy.startedAt,
      endedAt: deploy.endedAt,
      durationMs: 12_800,
      message: null,
      summary: summaryLine(deploy),
    });
  });

  it('cuts a long message from the NAS to one bounded line', () => {
    const m = JSON.parse(jsonPayload(hostile).body).message as string;
    expect(m.length).toBeLessThanOrEqual(501);
    expect(m.endsWith('…')).toBe(true);
  });

  it('is the default of buildPayload', () => {
    expect(buildPayload('json', deploy)).toEqual(jsonPayload(deploy));
  });
});

describe('slack format', () => {
  it('has a text fallback and blocks with the facts', () => {
    const b = JSON.parse(slackPayload(deploy).body);
    expect(b.text).toBe(summaryLine(deploy).replace(/>/g, '&gt;'));
    expect(b.blocks[0].text.text).toContain('loop-api deploy succeeded');
    const fields = b.blocks[1].fields.map((f: { text: string }) => f.text);
    expect(fields).toContain('*From*\nblue 1.0.0');
    expect(fields).toContain('*To*\ngreen 1.1.0');
    expect(fields).toContain('*By*\ntoken:0a1b2c3d4e5f');
  });

  it('NAS text cannot ping the channel or make links', () => {
    const body = slackPayload(hostile).body;
    expect(body).not.toContain('<!channel>');
    expect(body).not.toContain('<https://evil');
    expect(JSON.parse(body).blocks[2].elements[0].text).toContain('&lt;!channel&gt;');
  });
});

describe('discord format', () => {
  it('one embed with the outcome color and the facts', () => {
    const b = JSON.parse(discordPayload(deploy).body);
    expect(b.content).toBe(summaryLine(deploy));
    expect(b.allowed_mentions).toEqual({ parse: [] });
    expect(b.embeds[0].title).toBe('loop-api deploy: succeeded');
    expect(b.embeds[0].color).toBe(0x2eb67d);
    expect(b.embeds[0].timestamp).toBe(deploy.endedAt);
    expect(b.embeds[0].fields).toContainEqual({ name: 'From', value: 'blue 1.0.0', inline: true });
  });

  it('a failure is another color and mentions are neutralised', () => {
    const b = JSON.parse(discordPayload(hostile).body);
    expect(b.embeds[0].color).not.toBe(0x2eb67d);
    expect(b.embeds[0].description).not.toContain('@everyone');
    expect(b.embeds[0].description).toContain('@\u200beveryone');
  });
});

describe('ntfy format', () => {
  it('plain text body, ASCII title, tags and priority in headers', () => {
    const r = ntfyPayload(deploy);
    expect(r.body.split('\n')[0]).toBe(summaryLine(deploy));
    expect(r.headers.Title).toBe('loop-api deploy succeeded');
    expect(r.headers.Tags).toBe('white_check_mark');
    expect(r.headers.Priority).toBe('3');
  });

  it('failures get a higher priority; header values stay latin1-safe', () => {
    const r = ntfyPayload({ ...hostile, app: 'lööp→api' });
    expect(r.headers.Priority).toBe('4');
    expect(r.headers.Title).toMatch(/^[\x20-\x7e]+$/);
    expect(() => new Headers(r.headers)).not.toThrow();
  });
});
