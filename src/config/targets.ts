/**
 * Several NAS targets, several apps per target.
 *
 *   targets:
 *     prod:
 *       nas: …  sudo: …  docker: …  nginx: { testCommand, reloadCommand }  state: { dir }
 *       apps:
 *         loop-api:  { strategy: blue-green, upstreamFile, checkoutDir, frontPort, … }
 *         loop-auth: { strategy: recreate, checkoutDir, containerPort, hostPort, … }
 *     staging: …
 *
 * Each app becomes one per-app view with the single-NAS file's shape (nas,
 * sudo, docker, nginx, state, app, deploy and the global sections), parsed
 * by the same schemas: the engine and the read side work on one app at a
 * time and never learn about the others. The single-NAS file (top-level
 * `nas`, `app`, …) is one target named `default` with its one app, parsed
 * exactly as before. Problems are reported with the key the user wrote
 * (`targets.staging.apps.loop-auth.hostPort`), never the view's.
 */
import { posix } from 'node:path';
import { z } from 'zod';
import { configSchema, deploySchema, recreateConfigSchema, swarmConfigSchema, type Config, type RecreateConfig, type SwarmConfig } from '../config.js';

/** Target and app names: short, safe in paths, log lines and tool enums. */
export const TARGET_NAME_RE = /^[a-z][a-z0-9-]{0,31}$/;
const APP_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

/** The name the single-NAS file's one target gets. */
export const LEGACY_TARGET = 'default';

/** Top-level keys of the single-NAS file that belong to a target in the targets format. */
const TARGET_KEYS = ['nas', 'sudo', 'docker', 'nginx', 'state', 'app'] as const;
const GLOBAL_KEYS = ['deploy', 'server', 'log', 'auth', 'notify', 'metrics'] as const;

export const STRATEGIES = ['blue-green', 'recreate', 'swarm-service'] as const;
export type Strategy = (typeof STRATEGIES)[number];
export const DRIVERS = ['single-host', 'swarm'] as const;
/** The strategies each driver runs: a Swarm manager runs services, a single host runs containers. */
export const DRIVER_STRATEGIES: Record<(typeof DRIVERS)[number], readonly string[]> = {
  'single-host': ['blue-green', 'recreate'],
  swarm: ['swarm-service'],
};
export type Driver = (typeof DRIVERS)[number];

export type AppEntry =
  | { target: string; name: string; strategy: 'blue-green'; config: Config }
  | { target: string; name: string; strategy: 'recreate'; config: RecreateConfig }
  | { target: string; name: string; strategy: 'swarm-service'; config: SwarmConfig };

export interface TargetConfig {
  name: string;
  driver: Driver;
  /** In the file's order: the first is the tools' default. */
  apps: AppEntry[];
}

/** The loaded configuration: global sections once, then every target and app. */
export interface RootConfig {
  /** In the file's order: the first is the tools' default. */
  targets: TargetConfig[];
  /** Written in the single-NAS form (one target, `default`). */
  singleNas: boolean;
  deploy: Config['deploy'];
  server: Config['server'];
  log: Config['log'];
  auth: Config['auth'];
  notify: Config['notify'];
  metrics: Config['metrics'];
}

type Raw = Record<string, unknown>;

const isMap = (v: unknown): v is Raw => !!v && typeof v === 'object' && !Array.isArray(v);

export interface Issue {
  path: string;
  message: string;
}

const issuePath = (path: ReadonlyArray<PropertyKey>) => (path.length ? path.map(String).join('.') : '(root)');

/** Whether a merged raw configuration uses the targets format. */
export function isTargetsFormat(raw: Raw): boolean {
  return raw.targets !== undefined;
}

/** The root config of a single-NAS file: its one blue-green app is target `default`. */
export function singleNasRoot(config: Config): RootConfig {
  const app: AppEntry = { target: LEGACY_TARGET, name: config.app.name, strategy: 'blue-green', config };
  return {
    targets: [{ name: LEGACY_TARGET, driver: 'single-host', apps: [app] }],
    singleNas: true,
    deploy: config.deploy,
    server: config.server,
    log: config.log,
    auth: config.auth,
    notify: config.notify,
    metrics: config.metrics,
  };
}

/**
 * Parses the targets format. Returns the root config, or the problems (each
 * naming the key the user wrote).
 */
export function parseTargets(raw: Raw): { root: RootConfig; issues: [] } | { root?: undefined; issues: Issue[] } {
  const issues: Issue[] = [];
  const add = (path: string, message: string) => {
    if (!issues.some((i) => i.path === path && i.message === message)) issues.push({ path, message });
  };
  for (const k of TARGET_KEYS) {
    if (raw[k] !== undefined) {
      add(k, `"${k}" belongs inside a target when "targets" is used (targets.<name>.${k === 'app' ? 'apps.<name>' : k}): write either the single-NAS form or targets, not both`);
    }
  }
  for (const k of Object.keys(raw)) {
    if (k !== 'targets' && !(TARGET_KEYS as readonly string[]).includes(k) && !(GLOBAL_KEYS as readonly string[]).includes(k)) {
      add(k, 'unknown key');
    }
  }
  const targetsRaw = raw.targets;
  if (!isMap(targetsRaw) || Object.keys(targetsRaw).length === 0) {
    add('targets', 'must be a mapping of target names to targets, with at least one target');
    return { issues };
  }
  const globals: Raw = {};
  for (const k of GLOBAL_KEYS) if (raw[k] !== undefined) globals[k] = raw[k];

  const targets: TargetConfig[] = [];
  for (const [tName, tRaw] of Object.entries(targetsRaw)) {
    const tPath = `targets.${tName}`;
    if (!TARGET_NAME_RE.test(tName)) add(tPath, 'a target name is lower-case letters, digits and "-", starting with a letter (at most 32)');
    if (!isMap(tRaw)) {
      add(tPath, 'must be a mapping (nas, sudo, docker, nginx, state, apps)');
      continue;
    }
    for (const k of Object.keys(tRaw)) {
      if (!['driver', 'nas', 'sudo', 'docker', 'nginx', 'state', 'apps'].includes(k)) add(`${tPath}.${k}`, 'unknown key');
    }
    const driver = tRaw.driver ?? 'single-host';
    if (!(DRIVERS as readonly unknown[]).includes(driver)) add(`${tPath}.driver`, `must be one of: ${DRIVERS.join(', ')}`);
    const nginxRaw = tRaw.nginx;
    if (nginxRaw !== undefined && !isMap(nginxRaw)) add(`${tPath}.nginx`, 'must be a mapping');
    if (isMap(nginxRaw) && nginxRaw.upstreamFile !== undefined) add(`${tPath}.nginx.upstreamFile`, 'is per app in the targets format: targets.<name>.apps.<app>.upstreamFile');
    const stateRaw = tRaw.state;
    if (stateRaw !== undefined && !isMap(stateRaw)) add(`${tPath}.state`, 'must be a mapping');
    const stateDir = isMap(stateRaw) && typeof stateRaw.dir === 'string' ? stateRaw.dir : '/volume1/docker/loop-ops';
    const appsRaw = tRaw.apps;
    if (!isMap(appsRaw) || Object.keys(appsRaw).length === 0) {
      add(`${tPath}.apps`, 'must be a mapping of app names to apps, with at least one app');
      continue;
    }
    const apps: AppEntry[] = [];
    for (const [aName, aRaw] of Object.entries(appsRaw)) {
      const aPath = `${tPath}.apps.${aName}`;
      if (!APP_NAME_RE.test(aName)) add(aPath, 'an app name is a Docker-style name ([a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 64)');
      if (!isMap(aRaw)) {
        add(aPath, 'must be a mapping with a strategy (blue-green or recreate)');
        continue;
      }
      const { strategy = 'blue-green', upstreamFile, stateDir: appStateDir, deploy: appDeploy, ...appFields } = aRaw;
      if (!(STRATEGIES as readonly unknown[]).includes(strategy)) {
        add(`${aPath}.strategy`, `must be one of: ${STRATEGIES.join(', ')}`);
        continue;
      }
      const allowed = DRIVER_STRATEGIES[driver as Driver] ?? [];
      if ((DRIVERS as readonly unknown[]).includes(driver) && !allowed.includes(strategy as string)) {
        add(`${aPath}.strategy`, `a ${String(driver)} target runs ${allowed.join(' or ')} apps`);
        continue;
      }
      if (appFields.name !== undefined) add(`${aPath}.name`, 'the app name is its key under apps');
      if (appDeploy !== undefined && !isMap(appDeploy)) add(`${aPath}.deploy`, 'must be a mapping (keys of deploy to override for this app)');
      const view: Raw = {
        ...globals,
        nas: tRaw.nas,
        ...(tRaw.sudo !== undefined ? { sudo: tRaw.sudo } : {}),
        ...(tRaw.docker !== undefined ? { docker: tRaw.docker } : {}),
        nginx: { ...(isMap(nginxRaw) ? nginxRaw : {}), ...(upstreamFile !== undefined ? { upstreamFile } : strategy === 'blue-green' ? { upstreamFile: defaultUpstreamFile(aName) } : {}) },
        state: { dir: appStateDir ?? posix.join(stateDir, aName) },
        ...(isMap(appDeploy) ? { deploy: { ...(isMap(globals.deploy) ? globals.deploy : {}), ...appDeploy } } : {}),
        app: { ...(strategy === 'blue-green' ? blueGreenDefaults(aName) : {}), ...appFields, name: aName },
      };
      const mapPath = (p: ReadonlyArray<PropertyKey>): string => {
        const [head, key, ...rest] = p.map(String);
        const tail = (xs: string[]) => (xs.length ? `.${xs.join('.')}` : '');
        switch (head) {
          case 'nas':
          case 'sudo':
          case 'docker':
            return `${tPath}.${head}${tail(p.slice(1).map(String))}`;
          case 'nginx':
            return key === 'upstreamFile' ? `${aPath}.upstreamFile` : `${tPath}.nginx${tail(p.slice(1).map(String))}`;
          case 'state':
            return appStateDir !== undefined ? `${aPath}.stateDir` : `${tPath}.state.dir`;
          case 'app':
            return key === undefined ? aPath : `${aPath}.${key}${tail(rest)}`;
          case 'deploy':
            return isMap(appDeploy) && key !== undefined && key in appDeploy ? `${aPath}.deploy.${key}${tail(rest)}` : issuePath(p);
          default:
            return issuePath(p);
        }
      };
      const parsed =
        strategy === 'recreate' ? recreateConfigSchema.safeParse(view) : strategy === 'swarm-service' ? swarmConfigSchema.safeParse(view) : configSchema.safeParse(view);
      if (!parsed.success) {
        for (const i of parsed.error.issues) add(mapPath(i.path), i.message);
        continue;
      }
      apps.push(
        strategy === 'recreate'
          ? { target: tName, name: aName, strategy: 'recreate', config: parsed.data as RecreateConfig }
          : strategy === 'swarm-service'
            ? { target: tName, name: aName, strategy: 'swarm-service', config: parsed.data as SwarmConfig }
            : { target: tName, name: aName, strategy: 'blue-green', config: parsed.data as Config },
      );
    }
    checkTargetApps(tPath, apps, add);
    targets.push({ name: tName, driver: driver === 'swarm' ? 'swarm' : 'single-host', apps });
  }
  if (issues.length) return { issues };
  const first = targets[0]!.apps[0]!.config;
  // Global sections were validated in every view; any view holds them parsed.
  const root: RootConfig = {
    targets,
    singleNas: false,
    deploy: isMap(globals.deploy) ? deploySchema.parse(globals.deploy) : deploySchema.parse({}),
    server: first.server,
    log: first.log,
    auth: first.auth,
    notify: first.notify,
    metrics: first.metrics,
  };
  return { root, issues: [] };
}

/** Today's single-NAS defaults, derived from the app's name (they are loop-api's for loop-api). */
function blueGreenDefaults(app: string): Raw {
  const base = `/volume1/docker/${app}`;
  return {
    checkoutDir: `${base}/src`,
    vaultPath: `${base}/vault`,
    oauthKeysDir: `${base}/vault/oauth-keys`,
    dbPath: `${base}/vault/loop.db`,
    // Siblings are apps of their own in the targets format.
    watch: [],
  };
}

function defaultUpstreamFile(app: string): string {
  return `/volume1/docker/nginx/conf.d/${app}-upstream.conf`;
}

/** Container names an app owns on its target (what a second app must not reuse). */
export function containerNamesOf(app: AppEntry): string[] {
  // A Swarm service's containers are named by the manager after its tasks.
  if (app.strategy === 'swarm-service') return [];
  return app.strategy === 'blue-green' ? [`${app.name}-blue`, `${app.name}-green`] : [app.name, `${app.name}-previous`];
}

/** Host ports an app binds on its target, with the key that sets each. */
function hostPortsOf(app: AppEntry): Array<[number, string]> {
  if (app.strategy === 'blue-green') {
    const a = app.config.app;
    return [
      [a.frontPort, 'frontPort'],
      [a.colorPorts.blue, 'colorPorts.blue'],
      [a.colorPorts.green, 'colorPorts.green'],
    ];
  }
  if (app.strategy === 'swarm-service') return [];
  return app.config.app.hostPort !== undefined ? [[app.config.app.hostPort, 'hostPort']] : [];
}

/** Apps of one target must not share a container, a port, a state dir or an upstream file. */
function checkTargetApps(tPath: string, apps: AppEntry[], add: (path: string, message: string) => void): void {
  const seen = new Map<string, string>();
  const claim = (kind: string, value: string | number, path: string) => {
    const k = `${kind}\0${value}`;
    const other = seen.get(k);
    if (other !== undefined) add(path, `${kind} ${value} is already used by ${other}`);
    else seen.set(k, path);
  };
  for (const app of apps) {
    const aPath = `${tPath}.apps.${app.name}`;
    for (const c of containerNamesOf(app)) claim('container name', c, aPath);
    for (const [p, key] of hostPortsOf(app)) claim('host port', p, `${aPath}.${key}`);
    claim('state dir', app.config.state.dir, `${aPath}.stateDir`);
    if (app.strategy === 'blue-green') claim('upstream file', app.config.nginx.upstreamFile, `${aPath}.upstreamFile`);
  }
}

/** Every app of every target, in the file's order. */
export function allApps(root: RootConfig): AppEntry[] {
  return root.targets.flatMap((t) => t.apps);
}

/** The app a tool call or CLI run names (the first target and its first app by default). */
export function findApp(root: RootConfig, target?: string, app?: string): AppEntry {
  const t = target === undefined ? root.targets[0] : root.targets.find((x) => x.name === target);
  if (!t) throw new Error(`no target "${target}" (configured: ${root.targets.map((x) => x.name).join(', ')})`);
  const a = app === undefined ? t.apps[0] : t.apps.find((x) => x.name === app);
  if (!a) throw new Error(`no app "${app}" on target ${t.name} (configured: ${t.apps.map((x) => x.name).join(', ')})`);
  return a;
}

/** The per-app view of a blue-green app (the first one by default): what the engine and most tests work on. */
export function blueGreenConfig(root: RootConfig, target?: string, app?: string): Config {
  const a = app === undefined && target === undefined ? allApps(root).find((x) => x.strategy === 'blue-green') : findApp(root, target, app);
  if (!a || a.strategy !== 'blue-green') throw new Error(`${a ? `${a.target}/${a.name} uses the ${a.strategy} strategy` : 'no app uses the blue-green strategy'}`);
  return a.config;
}
