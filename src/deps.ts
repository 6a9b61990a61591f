/**
 * What a runtime (src/runtime.ts) is built from: configuration, secrets,
 * logger, the product's definitions and the services they run on.
 * `createRuntime()` assembles it from a configuration; a test hands in its
 * own (fake services, fake tools) to `runtimeOf`, or straight to
 * `runStdio` / `createHttpApp` / `startHttp`, which build the runtime.
 */
import type { Secrets } from './config.js';
import type { RootConfig } from './config/targets.js';
import type { Logger, SecretScrubber } from './log.js';
import type { MetricSources } from './metrics/index.js';
import type { PromptDefinition, ResourceDefinition } from './resources/types.js';
import type { ToolScopes } from './tools/inventory.js';
import type { AnyToolDefinition } from './tools/types.js';

export interface Deps<Services = unknown> {
  /** Every target and app, and the global sections. */
  config: RootConfig;
  secrets: Secrets;
  log: Logger;
  /** Scrubs known secret values (sudo password, passphrase, API token) from any text. */
  scrubber: SecretScrubber;
  /** Every tool the product has; the inventory filters (read-only, later scopes). */
  tools: AnyToolDefinition<Services>[];
  /** MCP resources (read scope, audited) and prompts; none when absent. */
  resources?: ResourceDefinition<Services>[];
  prompts?: PromptDefinition[];
  /** Opaque to the framework: the first app's services (resources, and each tool's `handler` when there is no fleet). */
  services: Services;
  /**
   * Every app of every target (src/services.ts): scoped tools get a handler
   * per app and `target`/`app` inputs. Without it, the one app is `services`.
   */
  fleet?: ToolScopes;
  /** Is the NAS reachable? For `/healthz`; must not throw (a throw counts as false). */
  probeNas(): Promise<boolean>;
  /** What /metrics reads besides tool calls (SSH pool, jobs, operations); absent parts are left out. */
  observe?: MetricSources;
  /** Releases the services (SSH pool, …). Called once, last, by the runtime's close(). */
  close(): Promise<void>;
}
