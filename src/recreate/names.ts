/**
 * The recreate strategy's names: one container named after the app, and at
 * most one kept beside it, `<app>-previous` (the version before the last
 * deploy, stopped, for rollback). A third name exists only for a moment
 * while two containers trade names (rollback) or while a restart's old
 * container waits for its replacement's health gate.
 */
import type { RecreateServices } from '../services.js';

export const liveName = (app: string) => app;
export const previousName = (app: string) => `${app}-previous`;
/** Only during a swap or a restart: the container on its way out. */
export const outgoingName = (app: string) => `${app}-outgoing`;

/** The names status and stop deal with, for an app's services. */
export function appNames(svc: Pick<RecreateServices, 'config'>) {
  const app = svc.config.app.name;
  return { app, live: liveName(app), previous: previousName(app), outgoing: outgoingName(app) };
}

/** Every phase a recreate operation journals (recover-table.ts says what each leaves to undo). */
export type RecreatePhase =
  | 'locked'
  | 'fetch'
  | 'pull'
  | 'build'
  /** The old `<app>-previous` removed, `<app>` renamed out of the way (still serving). */
  | 'replace'
  /** The new `<app>` created (not started). */
  | 'create'
  /** The old one stopped, the new one started: the gap in service begins. */
  | 'swap'
  | 'health'
  /** A failed gate: the new container removed, the old one renamed back and started. */
  | 'restore'
  /** After a good restart: the old container removed. */
  | 'cleanup'
  | 'prune'
  /** restart in place (docker restart). */
  | 'restart'
  | 'stop'
  | 'recover';
