/**
 * The sandbox's Swarm manager (scripts/sandbox/swarm.sh): its facts, and the
 * product's own services (SSH pool, Docker engine over dial-stdio) built from
 * the single-target config the script writes for it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createServices, type ServiceBundle } from '../../src/services.js';
import { resolveSwarmApp, swarmContext, type SwarmContext } from '../../src/swarm/index.js';
import { REPO_ROOT } from './nas.js';

export interface SwarmFacts {
  driver: 'swarm';
  configPath: string;
  script: string;
  ssh: { host: string; port: number; username: string; privateKeyPath: string; knownHostsPath: string; hostKeyFingerprint: string };
  dockerBinary: string;
  stateDir: string;
  network: string;
  apps: {
    'loop-api': {
      service: string;
      replicas: number;
      checkoutDir: string;
      originRepo: string;
      initialCommit: string;
      initialVersion: string;
      initialImage: string;
      containerPort: number;
      frontUrl: string;
      publicHealthUrl: string;
    };
  };
}

const FACTS = join(REPO_ROOT, '.sandbox', 'swarm.json');
const SCRIPT = join(REPO_ROOT, 'scripts', 'sandbox', 'swarm.sh');

/** Brings the swarm host up if it is not (idempotent, ~1 s when up); null with the reason when it cannot run here. */
export function getSwarm(): { facts: SwarmFacts | null; reason: string } {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return { facts: null, reason: 'the swarm sandbox needs Linux and root' };
  try {
    execFileSync('bash', [SCRIPT, 'status'], { stdio: 'ignore', timeout: 30_000 });
  } catch {
    execFileSync('bash', [SCRIPT, 'up'], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 });
  }
  if (!existsSync(FACTS)) return { facts: null, reason: `${FACTS} missing after swarm.sh up` };
  return { facts: JSON.parse(readFileSync(FACTS, 'utf8')) as SwarmFacts, reason: '' };
}

export function resetSwarm(facts: SwarmFacts): void {
  execFileSync('bash', [facts.script, 'reset'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
}

export function commitToSwarmOrigin(facts: SwarmFacts, files: Record<string, string>, message = 'test commit'): string {
  const args = [facts.script, 'commit', '-m', message, ...Object.entries(files).map(([k, v]) => `${k}=${v}`)];
  return execFileSync('bash', args, { encoding: 'utf8', timeout: 60_000 }).trim();
}

/** The product's services for the swarm target and the loop-api app on it. */
export async function swarmServices(facts: SwarmFacts, monitorSeconds = 3): Promise<{ bundle: ServiceBundle; ctx: SwarmContext }> {
  const { config, secrets } = loadConfig({ file: facts.configPath, env: {} });
  const log = createLogger({ level: process.env.LOOP_OPS_TEST_LOG ?? 'silent', pretty: false });
  const bundle = await createServices(config, secrets, log, { watchPreviousColor: false });
  const a = facts.apps['loop-api'];
  const app = resolveSwarmApp(
    'loop-api',
    { service: a.service, checkoutDir: a.checkoutDir, replicas: a.replicas, containerPort: a.containerPort, frontUrl: a.frontUrl, publicHealthUrl: a.publicHealthUrl, network: facts.network, updateMonitorSeconds: monitorSeconds, stateDir: facts.stateDir },
    facts.stateDir,
  );
  return { bundle, ctx: swarmContext(bundle.services, app) };
}
