/**
 * Long operations as jobs. A deploy can take longer than a client waits
 * (SDK clients 60 s, Claude 300 s), so it runs here, apart from the call
 * that started it: the call waits a bounded time, then returns the job id;
 * `job_status` reports progress and the outcome later. Cancelling the call or
 * closing the session does not stop the job: a half-done deploy is worse than
 * a finished one. The job's phases are also journaled on the NAS, so a job
 * cut off by a crash is visible (and recoverable) after a restart.
 */
import { randomBytes } from 'node:crypto';

export type JobState = 'running' | 'succeeded' | 'failed';

export interface JobSnapshot {
  id: string;
  kind: string;
  state: JobState;
  phase: string;
  startedAt: string;
  endedAt: string | null;
  /** The newest progress messages, oldest first (bounded). */
  progress: string[];
  /** Result of a finished job (tool-shaped, JSON). */
  result: Record<string, unknown> | null;
  error: string | null;
  hint: string | null;
}

export interface JobHandle {
  id: string;
  progress(message: string): void;
  phase(name: string): void;
}

type Listener = (message: string) => void;

const MAX_PROGRESS = 100;
/** One progress message can quote the NAS (build output, an error): keep each bounded. */
const MAX_MESSAGE_CHARS = 2_000;
const MAX_FINISHED = 50;

class Job {
  readonly snapshot: JobSnapshot;
  readonly done: Promise<void>;
  private readonly listeners = new Set<Listener>();

  constructor(id: string, kind: string, run: (h: JobHandle) => Promise<Record<string, unknown>>) {
    const snap: JobSnapshot = {
      id,
      kind,
      state: 'running',
      phase: 'starting',
      startedAt: new Date().toISOString(),
      endedAt: null,
      progress: [],
      result: null,
      error: null,
      hint: null,
    };
    this.snapshot = snap;
    const handle: JobHandle = {
      id,
      progress: (m) => this.push(m),
      phase: (name) => {
        snap.phase = name;
        this.push(`phase: ${name}`);
      },
    };
    this.done = (async () => {
      try {
        snap.result = await run(handle);
        snap.state = 'succeeded';
      } catch (e) {
        snap.state = 'failed';
        snap.error = e instanceof Error ? e.message : String(e);
        const hint = (e as { hint?: unknown }).hint;
        snap.hint = typeof hint === 'string' ? hint : null;
        const result = (e as { result?: unknown }).result;
        if (result && typeof result === 'object') snap.result = result as Record<string, unknown>;
      } finally {
        snap.endedAt = new Date().toISOString();
        this.listeners.clear();
      }
    })();
  }

  private push(raw: string): void {
    const message = raw.length > MAX_MESSAGE_CHARS ? `${raw.slice(0, MAX_MESSAGE_CHARS)} … [${raw.length - MAX_MESSAGE_CHARS} characters cut]` : raw;
    const p = this.snapshot.progress;
    p.push(message);
    if (p.length > MAX_PROGRESS) p.splice(0, p.length - MAX_PROGRESS);
    for (const l of this.listeners) l(message);
  }

  /** Follows progress until `off()` is called or the job ends. */
  follow(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export class JobRegistry {
  private readonly jobs = new Map<string, Job>();

  start(kind: string, run: (h: JobHandle) => Promise<Record<string, unknown>>, id?: string): JobSnapshot {
    const jobId = id ?? `${kind}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(2).toString('hex')}`;
    const job = new Job(jobId, kind, run);
    this.jobs.set(jobId, job);
    void job.done.then(() => this.prune());
    return job.snapshot;
  }

  get(id: string): JobSnapshot | undefined {
    return this.jobs.get(id)?.snapshot;
  }

  list(): JobSnapshot[] {
    return [...this.jobs.values()].map((j) => j.snapshot).reverse();
  }

  running(): JobSnapshot[] {
    return this.list().filter((j) => j.state === 'running');
  }

  /**
   * Waits up to `ms` for the job to finish, passing its progress messages to
   * `onProgress` meanwhile. Resolves with the snapshot either way.
   */
  async wait(id: string, ms: number, onProgress?: Listener, signal?: AbortSignal): Promise<JobSnapshot | undefined> {
    const job = this.jobs.get(id);
    if (!job) return undefined;
    const off = onProgress ? job.follow(onProgress) : () => {};
    // Cleared when the job ends first: a pending timer would keep a CLI process alive.
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        job.done,
        new Promise<void>((r) => {
          timer = setTimeout(r, ms);
          signal?.addEventListener('abort', () => (clearTimeout(timer), r()), { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      off();
    }
    return job.snapshot;
  }

  /** Resolves when every running job has ended (graceful shutdown). */
  async drain(ms: number): Promise<boolean> {
    const pending = [...this.jobs.values()].filter((j) => j.snapshot.state === 'running').map((j) => j.done);
    if (!pending.length) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.all(pending).then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), ms))),
    ]);
    clearTimeout(timer);
    return !timedOut;
  }

  private prune(): void {
    const finished = [...this.jobs.values()].filter((j) => j.snapshot.state !== 'running');
    for (const j of finished.slice(0, Math.max(0, finished.length - MAX_FINISHED))) this.jobs.delete(j.snapshot.id);
  }
}
