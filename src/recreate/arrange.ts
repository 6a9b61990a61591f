/**
 * Giving containers the names they should have, by id. Docker names are
 * unique, so two containers trading names (a rollback swaps `<app>` and
 * `<app>-previous`) need a third name for a moment: `<app>-outgoing`. The
 * plan is pure (unit-tested); `arrange` reads who holds which name and runs
 * it. Idempotent: run again after being cut off, it does only what is left,
 * which is what recover relies on.
 */
import type { RecreateServices } from '../services.js';
import { liveName, outgoingName, previousName } from './names.js';

export interface Holder {
  id: string;
  name: string;
}

export interface WantedNames {
  /** The container that must be `<app>`. */
  live: string;
  /** The container that must be `<app>-previous` (none: that name is left as it is). */
  previous?: string;
}

export type RenamePlan = { ok: true; renames: Array<{ id: string; from: string; to: string }> } | { ok: false; error: string };

export function planRenames(app: string, current: Holder[], want: WantedNames): RenamePlan {
  const names = new Map(current.map((c) => [c.id, c.name]));
  const holderOf = (name: string) => [...names].find(([, n]) => n === name)?.[0];
  const wanted: Array<[string, string]> = [[liveName(app), want.live]];
  if (want.previous !== undefined) {
    if (want.previous === want.live) return { ok: false, error: 'one container cannot be both live and previous' };
    wanted.push([previousName(app), want.previous]);
  }
  for (const [, id] of wanted) if (!names.has(id)) return { ok: false, error: `container ${id} does not exist` };
  const wantedIds = new Set(wanted.map(([, id]) => id));
  const renames: Array<{ id: string; from: string; to: string }> = [];
  const rename = (id: string, to: string) => {
    renames.push({ id, from: names.get(id)!, to });
    names.set(id, to);
  };
  for (const [name, id] of wanted) {
    if (names.get(id) === name) continue;
    const holder = holderOf(name);
    if (holder !== undefined) {
      if (!wantedIds.has(holder)) return { ok: false, error: `${name} is held by another container (${holder}); remove or rename it first` };
      // The other wanted container holds this name: step it aside.
      const aside = outgoingName(app);
      const blocker = holderOf(aside);
      if (blocker !== undefined && blocker !== holder) return { ok: false, error: `${aside} is held by another container (${blocker}); remove it first (recover, or docker rm)` };
      if (blocker === undefined) rename(holder, aside);
    }
    rename(id, name);
  }
  return { ok: true, renames };
}

/** Renames by id so that `want` holds; returns what it renamed. Throws when a foreign container is in the way. */
export async function arrange(svc: RecreateServices, want: WantedNames, signal?: AbortSignal): Promise<Array<{ from: string; to: string }>> {
  const app = svc.config.app.name;
  const ids = [want.live, ...(want.previous !== undefined ? [want.previous] : [])];
  const byName = [liveName(app), previousName(app), outgoingName(app)];
  const infos = await Promise.all([...ids, ...byName].map((x) => svc.docker.inspect(x, signal)));
  const current = new Map<string, string>();
  for (const i of infos) if (i) current.set(i.id, i.name);
  // Inspect answers a full id for names and our short one for ids: key by the short id everywhere.
  const short = (id: string) => id.slice(0, 12);
  const plan = planRenames(
    app,
    [...current].map(([id, name]) => ({ id: short(id), name })),
    { live: short(want.live), previous: want.previous !== undefined ? short(want.previous) : undefined },
  );
  if (!plan.ok) throw new Error(plan.error);
  for (const r of plan.renames) await svc.docker.rename(r.id, r.to, signal);
  return plan.renames.map(({ from, to }) => ({ from, to }));
}
