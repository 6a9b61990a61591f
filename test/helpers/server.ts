/** The real server (real tools, real services) against the sandbox NAS, for integration tests and benchmarks. */
import type { Config, Secrets } from '../../src/config.js';
import { singleNasRoot } from '../../src/config/targets.js';
import type { Deps } from '../../src/deps.js';
import { createLogger, scrubberFor } from '../../src/log.js';
import { metricSourcesOf } from '../../src/metrics/index.js';
import { startHttp, type RunningHttp } from '../../src/server.js';
import { createServices, toolScopesOf, type Services } from '../../src/services.js';
import { allPrompts, allResources } from '../../src/resources/index.js';
import { allTools } from '../../src/tools/index.js';
import { sandboxConfig } from './nas.js';

export const TEST_TOKEN = 'it-token-5f1d0c8e7b6a4938a1b2c3d4e5f60718';

export async function sandboxDeps(adjust: (c: Config) => void = () => {}, extraSecrets: Partial<Secrets> = {}): Promise<Deps<Services>> {
  const { config, secrets: fileSecrets } = sandboxConfig();
  const secrets = { ...fileSecrets, apiToken: TEST_TOKEN, ...extraSecrets };
  config.server.port = 0; // ephemeral, tests only
  adjust(config);
  const log = createLogger({ level: process.env.LOOP_OPS_TEST_LOG ?? 'silent', pretty: false });
  const root = singleNasRoot(config);
  const bundle = await createServices(root, secrets, log);
  return {
    config: root,
    secrets,
    log,
    scrubber: scrubberFor(secrets),
    tools: allTools,
    resources: allResources,
    prompts: allPrompts,
    services: bundle.services,
    fleet: toolScopesOf(bundle.fleet),
    observe: metricSourcesOf(bundle.services),
    probeNas: bundle.probeNas,
    close: bundle.close,
  };
}

export async function startSandboxServer(adjust?: (c: Config) => void, extraSecrets?: Partial<Secrets>): Promise<RunningHttp & { deps: Deps<Services> }> {
  const deps = await sandboxDeps(adjust, extraSecrets);
  const running = await startHttp(deps);
  return { ...running, deps };
}
