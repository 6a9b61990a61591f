import { describe, expect, it } from 'vitest';
import { colorContainerName, COLORS, LABEL_APP, LABEL_COLOR, LABEL_COMMIT, LABEL_DEPLOYMENT, LABEL_VERSION, otherColor } from '../../../src/domain/index.js';

// These names are what containers already running on a NAS carry: a rename orphans them.
describe('names on the NAS', () => {
  it('containers are <app>-<color>, the colors blue and green', () => {
    expect(COLORS).toEqual(['blue', 'green']);
    expect(colorContainerName('loop-api', 'blue')).toBe('loop-api-blue');
    expect(colorContainerName('loop-api', 'green')).toBe('loop-api-green');
    expect(otherColor('blue')).toBe('green');
    expect(otherColor('green')).toBe('blue');
  });
  it('labels keep their loop-ops.* names', () => {
    expect([LABEL_APP, LABEL_COLOR, LABEL_VERSION, LABEL_COMMIT, LABEL_DEPLOYMENT]).toEqual([
      'loop-ops.app',
      'loop-ops.color',
      'loop-ops.version',
      'loop-ops.commit',
      'loop-ops.deployment',
    ]);
  });
});
