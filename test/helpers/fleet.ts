/**
 * The real server on the sandbox's targets file (.sandbox/config.yaml: targets
 * prod and staging, apps loop-api and loop-auth on each), for the tests of
 * several targets and apps.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config.js';
import type { RootConfig } from '../../src/config/targets.js';
import type { Deps } from '../../src/deps.js';
import { createLogger } from '../../src/log.js';
import { createRuntime } from '../../src/runtime.js';
import { startHttp, type RunningHttp } from '../../src/server.js';
import type { Fleet, Services } from '../../src/services.js';
import { fastDeploy } from './mcp.js';
import { REPO_ROOT, SANDBOX_CONFIG } from './nas.js';
import { TEST_TOKEN } from './server.js';

/** Per target: its SSH endpoint and, per app, where it answers (sandbox.json `targets`). */
export interface TargetFacts {
  apps: Record<string, { frontUrl?: string; hostPort?: number; stateDir: string; [k: string]: unknown }>;
  [k: string]: unknown;
}

export function targetFacts(): Record<string, TargetFacts> | undefined {
  const facts = JSON.parse(readFileSync(join(REPO_ROOT, '.sandbox', 'sandbox.json'), 'utf8')) as { targets?: Record<string, TargetFacts> };
  return facts.targets;
}

/** Pushes a commit to one target's app origin (sandbox.sh commit --target --app). */
export function commitTo(target: string, app: string, files: Record<string, string>, message = 'test commit'): string {
  const args = [join(REPO_ROOT, 'scripts', 'sandbox.sh'), 'commit', '--target', target, '--app', app, '-m', message, ...Object.entries(files).map(([k, v]) => `${k}=${v}`)];
  return execFileSync('bash', args, { encoding: 'utf8', timeout: 60_000 }).trim();
}

export async function startFleetServer(adjust: (c: Config) => void = fastDeploy): Promise<RunningHttp & { deps: Deps<Services>; fleet: Fleet; root: RootConfig }> {
  const { config: root, secrets: fileSecrets } = loadConfig({ file: SANDBOX_CONFIG });
  const secrets = { ...fileSecrets, apiToken: TEST_TOKEN };
  root.server = { ...root.server, port: 0 };
  // Fast gates on every app's view (blue-green and recreate share the deploy section).
  for (const t of root.targets) for (const a of t.apps) adjust(a.config as Config);
  const log = createLogger({ level: process.env.LOOP_OPS_TEST_LOG ?? 'silent', pretty: false });
  // The runtime the CLI builds (src/runtime.ts).
  const runtime = await createRuntime(root, secrets, log, { metrics: root.metrics.enabled });
  const running = await startHttp(runtime);
  return { ...running, deps: runtime.deps as Deps<Services>, fleet: runtime.fleet, root };
}
