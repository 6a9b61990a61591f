/**
 * An in-memory Docker Engine for the recreate operations' unit tests: named
 * containers with ids, labels, state and a health each image decides
 * (`healthOf`). Names are unique, as Docker's are: a rename or create onto
 * a taken name fails like the Engine's 409. Every call is recorded.
 */
import type { ContainerInfo, ContainerSpec } from '../../../src/docker/index.js';

interface Box {
  id: string;
  name: string;
  spec: ContainerSpec;
  state: 'created' | 'running' | 'exited';
}

export class FakeDocker {
  readonly calls: string[] = [];
  private boxes: Box[] = [];
  private n = 0;
  constructor(private readonly healthOf: (image: string) => 'healthy' | 'unhealthy' | 'none' = () => 'healthy') {}

  add(name: string, image: string, state: Box['state'] = 'running', labels: Record<string, string> = {}): string {
    const id = (++this.n).toString(16).padStart(12, 'a');
    this.boxes.push({ id, name, state, spec: { name, image, labels, env: { RUNTIME: '1', PATH: '/bin' }, binds: [], network: 'loop_default', restartPolicy: 'unless-stopped' } });
    return id;
  }

  /** name → "image state", sorted: the whole picture in one comparable value. */
  picture(): Record<string, string> {
    return Object.fromEntries(this.boxes.map((b) => [b.name, `${b.spec.image} ${b.state}`]).sort());
  }

  private find(ref: string): Box | undefined {
    return this.boxes.find((b) => b.id === ref || b.name === ref);
  }
  private must(ref: string): Box {
    const b = this.find(ref);
    if (!b) throw Object.assign(new Error(`No such container: ${ref}`), { status: 404 });
    return b;
  }
  private info(b: Box): ContainerInfo {
    const h = b.state === 'running' ? this.healthOf(b.spec.image) : 'none';
    return { id: b.id, name: b.name, image: b.spec.image, imageId: `sha256:${b.spec.image}`, labels: b.spec.labels, state: b.state, health: h, startedAt: undefined, finishedAt: undefined, exitCode: undefined, restartCount: 0, ports: [], networks: [b.spec.network], lastHealthOutput: undefined };
  }

  async inspect(ref: string) {
    const b = this.find(ref);
    return b ? this.info(b) : undefined;
  }
  async containerSpec(ref: string) {
    const b = this.find(ref);
    return b ? { ...b.spec, name: b.name } : undefined;
  }
  async listContainers(f: { labels?: string[] }) {
    return this.boxes.filter((b) => (f.labels ?? []).every((l) => { const [k, v] = l.split('='); return b.spec.labels[k!] === v; })).map((b) => this.info(b));
  }
  async remove(ref: string) {
    this.calls.push(`remove ${this.find(ref)?.name ?? ref}`);
    this.boxes = this.boxes.filter((b) => b !== this.find(ref));
  }
  async rename(ref: string, to: string) {
    const b = this.must(ref);
    if (this.boxes.some((x) => x.name === to && x !== b)) throw Object.assign(new Error(`Conflict: ${to} is in use`), { status: 409 });
    this.calls.push(`rename ${b.name} ${to}`);
    b.name = to;
  }
  async create(spec: ContainerSpec) {
    if (this.find(spec.name)) throw Object.assign(new Error(`Conflict: ${spec.name} is in use`), { status: 409 });
    this.calls.push(`create ${spec.name} ${spec.image}`);
    const id = this.add(spec.name, spec.image, 'created', spec.labels);
    this.must(id).spec = spec;
    return `${id}0000`;
  }
  async start(ref: string) {
    const b = this.must(ref);
    if (b.state !== 'running' && b.spec.publish && this.boxes.some((x) => x !== b && x.state === 'running' && x.spec.publish?.hostPort === b.spec.publish!.hostPort)) {
      throw new Error(`port ${b.spec.publish.hostPort} is already allocated`);
    }
    this.calls.push(`start ${b.name}`);
    b.state = 'running';
  }
  async stop(ref: string) {
    const b = this.must(ref);
    this.calls.push(`stop ${b.name}`);
    b.state = 'exited';
  }
  async restart(ref: string) {
    this.calls.push(`restart ${this.must(ref).name}`);
    this.must(ref).state = 'running';
  }
  async logs() {
    return [{ stream: 'stdout' as const, text: 'a log line' }];
  }
  async imageEnv() {
    return { PATH: '/bin' };
  }
  async build(o: { tag: string }) {
    this.calls.push(`build ${o.tag}`);
  }
  async listImages() {
    return [];
  }
  async containerImages() {
    return [];
  }
}
