/**
 * The nginx upstream include that decides which color serves traffic. We
 * render it ourselves and read it back from the NAS, so "which color is live"
 * is always what the file on the NAS says, never what we remember.
 */
export type Color = 'blue' | 'green';
export const COLORS: readonly Color[] = ['blue', 'green'];

export const otherColor = (c: Color): Color => (c === 'blue' ? 'green' : 'blue');

export interface ColorPorts {
  blue: number;
  green: number;
}

export interface UpstreamInfo {
  /** The color whose port the active `server` line names; undefined if none matches. */
  color: Color | undefined;
  /** The raw targets of the active server lines, e.g. ["127.0.0.1:18081"]. */
  servers: string[];
  /** Deployment id recorded in our header comment, if any. */
  deploymentId: string | undefined;
}

export function parseUpstream(text: string, ports: ColorPorts): UpstreamInfo {
  const servers: string[] = [];
  let deploymentId: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const header = /^#\s*loop-ops:.*\bdeployment=([A-Za-z0-9_.:-]+)/.exec(line);
    if (header) deploymentId = header[1];
    if (line.startsWith('#')) continue;
    const m = /^server\s+([^\s;]+)[^;]*;/.exec(line);
    if (m && !/\bbackup\b|\bdown\b/.test(line)) servers.push(m[1]!);
  }
  const portOf = (s: string) => Number(/:(\d+)$/.exec(s)?.[1]);
  const colors = new Set(
    servers.map((s) => (portOf(s) === ports.blue ? 'blue' : portOf(s) === ports.green ? 'green' : undefined)),
  );
  const color = colors.size === 1 ? [...colors][0] : undefined;
  return { color, servers, deploymentId };
}

export function renderUpstream(o: { app: string; color: Color; ports: ColorPorts; deploymentId: string; at: Date }): string {
  return [
    `# loop-ops: managed by loop-ops-mcp; live color of ${o.app}. Do not edit by hand.`,
    `# loop-ops: color=${o.color} deployment=${o.deploymentId} at=${o.at.toISOString()}`,
    `server 127.0.0.1:${o.ports[o.color]};`,
    '',
  ].join('\n');
}
