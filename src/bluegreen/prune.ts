/**
 * Image retention applied: lists the app's images and every container, plans
 * with planImageRetention, and removes the planned tags one by one through
 * the Engine API (never forced: a container created meanwhile makes the
 * Engine refuse, and we report it). A failure to prune never fails the
 * operation that called it: the version is deployed either way.
 */
import type { DockerEngine } from '../docker/index.js';
import { planImageRetention, type RetentionPlan } from './retention.js';
import type { HistoryRecord } from '../domain/index.js';

export interface PruneReport {
  /** Our images kept, with why (live, previous, in_use, newest). */
  kept: Array<{ tags: string[]; version: string | null; reasons: string[] }>;
  /** Tags removed. */
  removed: string[];
  /** Image ids whose last tag went, i.e. disk given back. */
  deletedImages: number;
  /** Tags not removed, with why (in use after all, error). */
  skipped: Array<{ tag: string; why: string }>;
}

export async function pruneAppImages(
  d: { docker: DockerEngine; app: string; retain: number; liveImage: string | null; history: HistoryRecord[] },
  signal?: AbortSignal,
): Promise<PruneReport> {
  const [images, containers] = await Promise.all([d.docker.listImages(d.app, signal), d.docker.containerImages(signal)]);
  const plan: RetentionPlan = planImageRetention({ app: d.app, images, containers, liveImage: d.liveImage, history: d.history, retain: d.retain });
  const report: PruneReport = {
    kept: plan.keep.map((k) => ({ tags: k.tags, version: k.version, reasons: k.reasons })),
    removed: [],
    deletedImages: 0,
    skipped: [],
  };
  for (const p of plan.prune) {
    for (const tag of p.tags) {
      try {
        const r = await d.docker.removeImage(tag, signal);
        if (r.status === 'in_use') report.skipped.push({ tag, why: 'a container uses it' });
        else if (r.status === 'removed') {
          report.removed.push(tag);
          if (r.deleted.length) report.deletedImages++;
        }
      } catch (e) {
        report.skipped.push({ tag, why: (e as Error).message.slice(0, 200) });
      }
    }
  }
  return report;
}
