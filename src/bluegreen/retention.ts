/**
 * Which versions stay on the NAS: image retention and the lookup of a
 * retained version for `rollback to`. Pure functions over what Docker and the
 * history say, so every decision is unit-tested as plain data; the calls that
 * act on it (list, remove) are in src/docker.
 *
 * Only our own images are ever candidates: tags `<app>:<YYYYMMDDHHMMSS>-<commit>`
 * that our deploys build (imageTag) and that carry our app label. Anything a
 * container uses, running or stopped, is kept (and the Engine would refuse
 * its removal anyway: we never force, never `image prune -a`).
 */
import { type HistoryRecord, LABEL_APP, LABEL_COMMIT, LABEL_VERSION } from '../domain/index.js';
import type { ContainerImageUse } from '../docker/index.js';

/** An image as the Engine lists it (GET /images/json). */
export interface ImageRecord {
  /** sha256:… */
  id: string;
  tags: string[];
  /** Unix seconds. */
  created: number;
  labels: Record<string, string>;
}

export interface DeployTag {
  tag: string;
  /** YYYYMMDDHHMMSS, UTC: when the deploy built it. */
  time: string;
  commit: string;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The parts of one of our deploy tags, or undefined for any other tag. */
export function parseDeployTag(app: string, tag: string): DeployTag | undefined {
  const m = new RegExp(`^${escapeRe(app)}:(\\d{14})-([0-9a-f]{7,40})$`).exec(tag);
  return m ? { tag, time: m[1]!, commit: m[2]! } : undefined;
}

/** One image of ours (one image id, possibly several of our tags: same content built twice). */
export interface AppImage {
  id: string;
  /** Our deploy tags on it, newest first. */
  tags: string[];
  /** The newest of its deploy times (YYYYMMDDHHMMSS). */
  time: string;
  version: string | null;
  commit: string | null;
}

/** Our images among a listing, newest first. */
export function appImages(app: string, images: ImageRecord[]): AppImage[] {
  const out: AppImage[] = [];
  for (const img of images) {
    if (img.labels[LABEL_APP] !== app) continue;
    const ours = img.tags
      .map((t) => parseDeployTag(app, t))
      .filter((t): t is DeployTag => t !== undefined)
      .sort((a, b) => b.time.localeCompare(a.time) || b.tag.localeCompare(a.tag));
    if (!ours.length) continue;
    out.push({ id: img.id, tags: ours.map((t) => t.tag), time: ours[0]!.time, version: img.labels[LABEL_VERSION] ?? null, commit: img.labels[LABEL_COMMIT] ?? null });
  }
  return out.sort((a, b) => b.time.localeCompare(a.time) || b.id.localeCompare(a.id));
}

/** The image id a reference (tag or id) names in the listing. */
function idOf(ref: string | null | undefined, images: ImageRecord[]): string | undefined {
  if (!ref) return undefined;
  if (ref.startsWith('sha256:')) return ref;
  return images.find((i) => i.id === ref || i.tags.includes(ref))?.id;
}

export type KeepReason = 'live' | 'previous' | 'in_use' | 'newest';

export interface RetentionInput {
  app: string;
  /** The app repository's images (GET /images/json?filters=reference=<app>). */
  images: ImageRecord[];
  /** Every container on the host, any state. */
  containers: ContainerImageUse[];
  /** Image (tag or id) of the live color's container, when known. */
  liveImage: string | null;
  /** Deployment history, newest first (to know the previous version). */
  history: HistoryRecord[];
  /** deploy.retainImages: how many images to keep besides live, previous and in-use ones. */
  retain: number;
}

export interface RetentionPlan {
  keep: Array<{ id: string; tags: string[]; version: string | null; reasons: KeepReason[]; usedBy: string[] }>;
  /** Our tags to remove (each image's deploy tags; the image goes once none is left). */
  prune: Array<{ id: string; tags: string[]; version: string | null }>;
}

/**
 * The image that was live before the current one: the newest successful
 * switch in the history (deploy or rollback) to an image other than the live
 * one. The idle color's container may since have been replaced by a failed
 * deploy attempt, so the containers alone do not tell it.
 */
export function previousImageId(history: HistoryRecord[], liveId: string | undefined, images: ImageRecord[]): string | undefined {
  for (const h of history) {
    if (h.outcome !== 'succeeded' || !h.image || (h.kind !== 'deploy' && h.kind !== 'rollback')) continue;
    const id = idOf(h.image, images);
    if (id && id !== liveId) return id;
  }
  return undefined;
}

/** Which of our images to keep and which to remove. */
export function planImageRetention(input: RetentionInput): RetentionPlan {
  const retain = Math.max(0, Math.floor(input.retain));
  const ours = appImages(input.app, input.images);
  const liveId = idOf(input.liveImage, input.images);
  const prevId = previousImageId(input.history, liveId, input.images);
  const usedBy = new Map<string, string[]>();
  for (const c of input.containers) {
    // A container shows its image id; also match its reference, in case an id is missing.
    for (const id of new Set([c.imageId, idOf(c.image, input.images)].filter((x): x is string => !!x))) {
      usedBy.set(id, [...(usedBy.get(id) ?? []), c.name]);
    }
  }
  const plan: RetentionPlan = { keep: [], prune: [] };
  let others = 0;
  for (const img of ours) {
    const reasons: KeepReason[] = [];
    if (img.id === liveId) reasons.push('live');
    if (img.id === prevId) reasons.push('previous');
    if (usedBy.has(img.id)) reasons.push('in_use');
    if (!reasons.length && others < retain) {
      reasons.push('newest');
      others++;
    }
    if (reasons.length) plan.keep.push({ id: img.id, tags: img.tags, version: img.version, reasons, usedBy: usedBy.get(img.id) ?? [] });
    else plan.prune.push({ id: img.id, tags: img.tags, version: img.version });
  }
  return plan;
}

// ------------------------------------------------------------ rollback target

/** A version one can roll back to: a retained image and the deployment that built it. */
export interface RetainedVersion {
  image: string;
  imageId: string;
  version: string | null;
  commit: string | null;
  /** The deploy that built it, if the history still has it. */
  deploymentId: string | null;
  deployedAt: string | null;
}

/** Retained images, newest first, each with the deployment that made it. */
export function retainedVersions(app: string, images: ImageRecord[], history: HistoryRecord[]): RetainedVersion[] {
  return appImages(app, images).map((img) => {
    const dep = history.find((h) => h.kind === 'deploy' && h.image !== null && img.tags.includes(h.image));
    return {
      image: img.tags[0]!,
      imageId: img.id,
      version: img.version,
      commit: img.commit,
      deploymentId: dep?.id ?? null,
      deployedAt: dep?.endedAt ?? dep?.startedAt ?? null,
    };
  });
}

export type RollbackTarget =
  | { ok: true; image: string; imageId: string; version: string | null; commit: string | null; deploymentId: string | null }
  | { ok: false; reason: 'unknown' | 'pruned'; message: string; available: RetainedVersion[] };

export function describeVersion(v: RetainedVersion): string {
  return [v.deploymentId ?? '(no deployment in the history)', v.version ? `version ${v.version}` : null, v.image].filter(Boolean).join(' · ');
}

/**
 * What `rollback to` names: a deployment id from the history, a version, or
 * one of our image tags. A version deployed several times means the newest
 * of its deployments whose image is still there.
 */
export function resolveRollbackTarget(app: string, to: string, history: HistoryRecord[], images: ImageRecord[]): RollbackTarget {
  const available = retainedVersions(app, images, history);
  const present = (tag: string | null) => (tag ? available.find((v) => v.image === tag || images.some((i) => i.id === v.imageId && i.tags.includes(tag))) : undefined);
  const hit = (v: RetainedVersion, deploymentId: string | null): RollbackTarget => ({
    ok: true,
    image: v.image,
    imageId: v.imageId,
    version: v.version,
    commit: v.commit,
    deploymentId: deploymentId ?? v.deploymentId,
  });
  const list = available.length ? available.map((v) => `  - ${describeVersion(v)}`).join('\n') : '  (none)';

  // 1. A deployment id.
  const byId = history.find((h) => h.id === to);
  if (byId) {
    if (!byId.image) {
      return { ok: false, reason: 'unknown', message: `${to} (${byId.kind}) names no image; retained versions:\n${list}`, available };
    }
    const v = present(byId.image);
    if (v) return hit(v, byId.id);
    return { ok: false, reason: 'pruned', message: `the image of ${to} (${byId.image}) is no longer on the NAS (pruned by retention); retained versions:\n${list}`, available };
  }
  // 2. One of our image tags.
  if (parseDeployTag(app, to)) {
    const v = present(to);
    if (v) return hit(v, null);
    const known = history.some((h) => h.image === to);
    return { ok: false, reason: known ? 'pruned' : 'unknown', message: `image ${to} is ${known ? 'no longer on the NAS (pruned by retention)' : 'unknown'}; retained versions:\n${list}`, available };
  }
  // 3. A version: newest retained image carrying it, else tell whether it ever existed.
  const v = available.find((a) => a.version === to);
  if (v) return hit(v, null);
  const deployed = history.filter((h) => h.kind === 'deploy' && h.version === to && h.image);
  if (deployed.length) {
    return { ok: false, reason: 'pruned', message: `version ${to} was deployed (${deployed[0]!.id}) but its image is no longer on the NAS (pruned by retention); retained versions:\n${list}`, available };
  }
  return { ok: false, reason: 'unknown', message: `no deployment, version or image ${JSON.stringify(to.slice(0, 100))} in the history; retained versions:\n${list}`, available };
}
