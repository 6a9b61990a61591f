/** The real server (real tools, real services) against the sandbox NAS, for integration tests and benchmarks. */
import type { Config, Secrets } from '../../src/config.js';
import { singleNasRoot } from '../../src/config/targets.js';
import type { Deps } from '../../src/deps.js';
import { createLogger } from '../../src/log.js';
import { createRuntime, type FleetRuntime } from '../../src/runtime.js';
import { startHttp, type RunningHttp } from '../../src/server.js';
import type { Services } from '../../src/services.js';
import { sandboxConfig } from './nas.js';

export const TEST_TOKEN = 'it-token-5f1d0c8e7b6a4938a1b2c3d4e5f60718';

/** The runtime the CLI builds, on the sandbox's configuration (adjusted), with the test token. */
export async function sandboxRuntime(adjust: (c: Config) => void = () => {}, extraSecrets: Partial<Secrets> = {}): Promise<FleetRuntime> {
  const { config, secrets: fileSecrets } = sandboxConfig();
  const secrets = { ...fileSecrets, apiToken: TEST_TOKEN, ...extraSecrets };
  config.server.port = 0; // ephemeral, tests only
  adjust(config);
  const log = createLogger({ level: process.env.LOOP_OPS_TEST_LOG ?? 'silent', pretty: false });
  const root = singleNasRoot(config);
  return createRuntime(root, secrets, log, { metrics: root.metrics.enabled });
}

export async function startSandboxServer(
  adjust?: (c: Config) => void,
  extraSecrets?: Partial<Secrets>,
): Promise<RunningHttp & { deps: Deps<Services>; runtime: FleetRuntime }> {
  const runtime = await sandboxRuntime(adjust, extraSecrets);
  const running = await startHttp(runtime);
  return { ...running, deps: runtime.deps as Deps<Services>, runtime };
}
