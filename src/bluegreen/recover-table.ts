/**
 * What recover does for an operation cut off at a given phase: a table from
 * (operation, phase) to the compensating actions, in order. Pure data, so
 * every case is visible in one place and unit-tested.
 *
 * - check_traffic: if the live color is unhealthy and the operation started
 *   from another color, switch back to it; a healthy live color stays.
 * - stop_unswitched_idle: stop the idle color the operation itself started
 *   (its labels name the operation) if traffic is not on it; kept for
 *   inspection.
 * - note_backup: say where the OAuth files moved (reset/restore).
 */
import type { OperationKind } from '../domain/index.js';

export type CompensatingAction = 'check_traffic' | 'stop_unswitched_idle' | 'note_backup';

type Row = Record<string, readonly CompensatingAction[]>;

const NOTHING: readonly CompensatingAction[] = [];
const BEFORE_SWITCH: readonly CompensatingAction[] = ['stop_unswitched_idle'];
const AROUND_SWITCH: readonly CompensatingAction[] = ['check_traffic', 'stop_unswitched_idle'];
/** A phase we do not know (a newer version's journal): check everything. */
const UNKNOWN: readonly CompensatingAction[] = ['check_traffic', 'stop_unswitched_idle'];

const cutoverRows: Row = { start: BEFORE_SWITCH, health: BEFORE_SWITCH, switch: AROUND_SWITCH, verify: AROUND_SWITCH, retire: ['check_traffic'] };
const withBackup = (r: Row): Row => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, [...v, 'note_backup' as const]]));

export const RECOVER_TABLE: Record<OperationKind, Row> = {
  deploy: { locked: NOTHING, fetch: NOTHING, pull: NOTHING, build: NOTHING, ...cutoverRows, prune: ['check_traffic'] },
  // An instant rollback's target is the previous version, labelled by its own deploy: stop_unswitched_idle
  // leaves it. A rollback to a version recreates the idle color labelled with its own id: stopped if never switched to.
  rollback: { locked: NOTHING, start: BEFORE_SWITCH, health: BEFORE_SWITCH, switch: AROUND_SWITCH, verify: AROUND_SWITCH, retire: ['check_traffic'] },
  restart: { locked: NOTHING, restart: ['check_traffic'], ...cutoverRows },
  stop: { locked: NOTHING, stop: NOTHING },
  reset_oauth: { locked: NOTHING, backup: ['note_backup'], ...withBackup(cutoverRows) },
  restore_oauth: { locked: NOTHING, backup: ['note_backup'], restore: ['note_backup'], ...withBackup(cutoverRows) },
  recover: { locked: ['check_traffic'] },
};

/** The compensating actions for `kind` cut off at `phase`. */
export function compensation(kind: string, phase: string): readonly CompensatingAction[] {
  const row = (RECOVER_TABLE as Record<string, Row | undefined>)[kind];
  if (!row) return UNKNOWN;
  return row[phase] ?? (kind === 'recover' ? ['check_traffic'] : UNKNOWN);
}
