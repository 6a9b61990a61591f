/**
 * The names loop-ops gives things on the NAS: the two colors, the container
 * of each color, and the labels it puts on every container it creates.
 *
 * These names are the contract with what is already running on the NAS:
 * `status` finds the app's containers by them, a rollback finds the image a
 * deployment ran by them, a deploy decides which color to replace by them.
 * Changing one orphans the containers created under the old name (they keep
 * running, unseen and unmanaged), so never rename without a migration.
 */

export type Color = 'blue' | 'green';
export const COLORS: readonly Color[] = ['blue', 'green'];

export const otherColor = (c: Color): Color => (c === 'blue' ? 'green' : 'blue');

/** The host port each color's container publishes (nginx proxies to the live one). */
export interface ColorPorts {
  blue: number;
  green: number;
}

export const LABEL_APP = 'loop-ops.app';
export const LABEL_COLOR = 'loop-ops.color';
export const LABEL_VERSION = 'loop-ops.version';
export const LABEL_COMMIT = 'loop-ops.commit';
export const LABEL_DEPLOYMENT = 'loop-ops.deployment';

export const colorContainerName = (app: string, color: Color) => `${app}-${color}`;
