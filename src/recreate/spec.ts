/**
 * The container spec of a recreate app: what the config says (network,
 * 127.0.0.1:<hostPort>:<containerPort>, volumes, restart unless-stopped)
 * plus our labels, and the environment the live container was given at its
 * creation (not what its image defines: the new image brings its own).
 */
import type { ContainerSpec } from '../docker/index.js';
import { LABEL_APP } from '../domain/index.js';
import type { RecreateServices } from '../services.js';
import { liveName } from './names.js';

/** The operation that created a container (recover removes what its interrupted operation made). */
export { LABEL_OPERATION } from '../bluegreen/operations/cutover.js';

/**
 * Variables set on the container itself, i.e. those of `containerEnv` that
 * its image does not define with the same value. Carrying over the image's
 * own (PATH, build-time ENV) would pin the old image's values on the new one.
 */
export function runtimeEnv(containerEnv: Record<string, string>, imageEnv: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(containerEnv).filter(([k, v]) => imageEnv[k] !== v));
}

export function appSpec(
  svc: Pick<RecreateServices, 'config'>,
  o: { image: string; labels: Record<string, string>; env: Record<string, string>; baseBinds?: ContainerSpec['binds'] },
): ContainerSpec {
  const app = svc.config.app;
  return {
    name: liveName(app.name),
    image: o.image,
    labels: { ...o.labels, [LABEL_APP]: app.name },
    env: o.env,
    // The config's volumes; a container created before they were configured keeps its own.
    binds: app.volumes.length ? app.volumes.map((v) => ({ host: v.host, container: v.container, readOnly: v.readOnly })) : (o.baseBinds ?? []),
    network: app.network,
    publish: app.hostPort !== undefined ? { hostIp: '127.0.0.1', hostPort: app.hostPort, containerPort: app.containerPort } : undefined,
    restartPolicy: 'unless-stopped',
  };
}
