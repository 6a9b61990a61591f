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

// ---------------------------------------------------------------- the recreate strategy (src/recreate)

/**
 * What recover does for a recreate operation (one container `<app>`, the
 * old one kept as `<app>-previous`), cut off at a phase. The journal's
 * detail names the containers by id: fromId (served when the operation
 * began), toId (what should serve when it succeeds), keepFrom (the old one
 * kept as previous, or removed: restart).
 *
 * - put_back: undo. Containers the operation created are removed; fromId is
 *   renamed back to `<app>` and started; `<app>-previous` gets back what it
 *   held (oldPreviousId, which a new version moved aside, or toId, the
 *   previous version a rollback swapped in), stopped; then the gate.
 * - keep_if_healthy: if toId runs and passes the gate as `<app>`, the
 *   operation had as good as finished: complete it; otherwise put_back.
 * - complete: the operation's own last steps (old container stopped and kept
 *   as `<app>-previous`, the one it displaced removed; after a restart the
 *   old container removed).
 */
export type RecreateAction = 'put_back' | 'keep_if_healthy' | 'complete';

type RecreateRow = Record<string, readonly RecreateAction[]>;
const R_NOTHING: readonly RecreateAction[] = [];
const R_PUT_BACK: readonly RecreateAction[] = ['put_back'];
const R_KEEP: readonly RecreateAction[] = ['keep_if_healthy'];
const R_COMPLETE: readonly RecreateAction[] = ['complete'];
/** The replace sequence (src/recreate/replace.ts), shared by deploy, rollback to a version and restart. */
const replaceRows: RecreateRow = { replace: R_PUT_BACK, create: R_PUT_BACK, swap: R_KEEP, health: R_KEEP, restore: R_PUT_BACK, cleanup: R_COMPLETE };

export const RECREATE_RECOVER_TABLE: Record<'deploy' | 'rollback' | 'restart' | 'stop' | 'recover', RecreateRow> = {
  deploy: { locked: R_NOTHING, fetch: R_NOTHING, pull: R_NOTHING, build: R_NOTHING, ...replaceRows, prune: R_COMPLETE },
  // Without `to` the swap (arrange.ts) is journaled as swap/health/restore; with `to` it is the replace sequence.
  rollback: { locked: R_NOTHING, ...replaceRows, prune: R_COMPLETE },
  // In place: `restart` then `health` (fromId = toId: keep it if healthy, else start it again).
  restart: { locked: R_NOTHING, restart: R_KEEP, ...replaceRows },
  stop: { locked: R_NOTHING, stop: R_NOTHING },
  recover: { locked: R_KEEP },
};

/** The compensating actions for a recreate operation `kind` cut off at `phase` (an unknown one: keep_if_healthy, which checks everything). */
export function recreateCompensation(kind: string, phase: string): readonly RecreateAction[] {
  const row = (RECREATE_RECOVER_TABLE as Record<string, RecreateRow | undefined>)[kind];
  return row?.[phase] ?? R_KEEP;
}
