/**
 * The owner's way today, reproduced exactly: sshpass with the password on the
 * command line, no host key check, a fresh SSH login per command, and the
 * password echoed into `sudo -S`. The baseline every benchmark compares to.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { Config, Secrets } from '../src/config.js';

const run = promisify(execFile);

/**
 * The sandbox NAS serves password logins (like the owner's Synology) on a
 * separate port, so the product's own port stays key-only; the owner logs in
 * as the admin with full sudo (the product's user may only run its own list).
 */
function passwordLogin(config: Config): { port: number; username: string } {
  try {
    const facts = JSON.parse(readFileSync('.sandbox/sandbox.json', 'utf8')) as { legacyPasswordSsh?: { port: number; username?: string } };
    return { port: facts.legacyPasswordSsh?.port ?? config.nas.port, username: facts.legacyPasswordSsh?.username ?? config.nas.username };
  } catch {
    return { port: config.nas.port, username: config.nas.username };
  }
}

export function ownerWay(config: Config, secrets: Secrets): () => Promise<string> {
  const { port, username } = passwordLogin(config);
  const pw = secrets.sudoPassword!;
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const ps = [config.docker.binary, 'ps', '--filter', `label=loop-ops.app=${config.app.name}`, '--format', '{{.Names}} {{.Status}}'];
  const remote = `echo ${q(pw)} | sudo -S -p '' ${ps.map(q).join(' ')}`;
  return async () => {
    const { stdout } = await run('sshpass', [
      '-p', pw, 'ssh', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
      '-o', 'PubkeyAuthentication=no', '-p', String(port), `${username}@${config.nas.host}`, remote,
    ]);
    if (!stdout.includes(config.app.name)) throw new Error("owner's way: the app was not listed");
    return stdout;
  };
}

export async function sample(n: number, fn: () => Promise<unknown>, warmup = 2): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}
