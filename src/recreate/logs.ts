/** The last log lines of a container, for a failure report (nothing when it cannot be read). */
import type { RecreateServices } from '../services.js';

export async function lastLogs(svc: Pick<RecreateServices, 'docker'>, container: string, lines = 20): Promise<string[]> {
  try {
    const l = await svc.docker.logs(container, { stdout: true, stderr: true, tail: lines, timestamps: false });
    return l.map((x) => (x.stream === 'stderr' ? `[err] ${x.text}` : x.text));
  } catch {
    return [];
  }
}
