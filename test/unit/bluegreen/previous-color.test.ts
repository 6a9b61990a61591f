import { describe, expect, it } from 'vitest';
import type { PreviousStop } from '../../../src/domain/index.js';
import { decidePreviousStop, scheduleFor } from '../../../src/bluegreen/previous-color.js';

const now = new Date('2026-12-06T03:00:00.000Z');
const rec: PreviousStop = scheduleFor({ container: 'loop-api-blue', color: 'blue', deploymentId: 'deploy-1', minutes: 30, setBy: 'deploy-2', now });
const running = { state: 'running', labels: { 'loop-ops.deployment': 'deploy-1' } };
const later = (min: number) => new Date(now.getTime() + min * 60_000);

describe('timed retention of the previous color', () => {
  it('schedules the stop minutes after the deploy', () => {
    expect(rec).toEqual({ container: 'loop-api-blue', color: 'blue', deploymentId: 'deploy-1', stopAt: '2026-12-06T03:30:00.000Z', setBy: 'deploy-2' });
  });
  it('waits until due, then stops', () => {
    expect(decidePreviousStop(rec, later(10), 'green', running)).toEqual({ action: 'wait', dueInMs: 20 * 60_000 });
    expect(decidePreviousStop(rec, later(30), 'green', running)).toEqual({ action: 'stop' });
    expect(decidePreviousStop(rec, later(600), 'green', running)).toEqual({ action: 'stop' });
  });
  it('never stops the live color, a replaced container, or when the live color is unknown', () => {
    expect(decidePreviousStop(rec, later(31), 'blue', running)).toMatchObject({ action: 'drop', why: expect.stringMatching(/live again/) });
    expect(decidePreviousStop(rec, later(31), undefined, running)).toMatchObject({ action: 'drop' });
    expect(decidePreviousStop(rec, later(31), 'green', { state: 'running', labels: { 'loop-ops.deployment': 'deploy-3' } })).toMatchObject({ action: 'drop', why: expect.stringMatching(/replaced/) });
    expect(decidePreviousStop(rec, later(31), 'green', undefined)).toMatchObject({ action: 'drop', why: expect.stringMatching(/no longer exists/) });
    expect(decidePreviousStop(rec, later(31), 'green', { ...running, state: 'exited' })).toMatchObject({ action: 'drop', why: expect.stringMatching(/already exited/) });
  });
});
