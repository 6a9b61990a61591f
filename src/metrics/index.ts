/**
 * Prometheus metrics of one server instance, with prom-client. Each instance
 * has its own Registry (never prom-client's global one), so two servers in
 * one process (tests) never share or double-register a metric.
 *
 *   loop_ops_tool_calls_total{tool,outcome}                 ok | error | denied
 *   loop_ops_tool_call_duration_seconds{tool,outcome}       histogram
 *   loop_ops_operations_total{kind,outcome}                 succeeded | failed | rolled_back | recovered
 *   loop_ops_operation_duration_seconds{kind,outcome}       histogram
 *   loop_ops_operation_phase_duration_seconds{kind,phase}   histogram (build, health, switch, verify, …)
 *   loop_ops_operations_running{kind}
 *   loop_ops_ssh_connections{state}                         all | ready
 *   loop_ops_ssh_channels_active, loop_ops_ssh_channel_queue
 *   loop_ops_ssh_connects_total, loop_ops_ssh_channel_retries_total
 *   loop_ops_jobs_running
 *   + Node process metrics (process_*, nodejs_*) unless metrics.processMetrics is false
 *
 * Pool and job figures are read when scraped (collect callbacks): nothing
 * polls in between.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { OperationEvents } from '../ops/events.js';
import type { Services } from '../services.js';
import type { PoolStats } from '../ssh/pool.js';

/** Where the figures come from; each part optional (framework tests have no NAS). */
export interface MetricSources {
  poolStats?: () => PoolStats;
  jobsRunning?: () => number;
  operations?: { subscribe(listener: Partial<OperationEvents>): () => void };
}

export function metricSourcesOf(s: Pick<Services, 'pool' | 'jobs' | 'events'>): MetricSources {
  const events = s.events as MetricSources['operations'] | undefined;
  return {
    poolStats: () => s.pool.getStats(),
    jobsRunning: () => s.jobs.running().length,
    ...(events && typeof events.subscribe === 'function' ? { operations: events } : {}),
  };
}

export interface MetricsOptions {
  processMetrics: boolean;
}

const TOOL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const OPERATION_BUCKETS = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600];
/** Operations followed at once for phase timing (a handful in practice). */
const MAX_TRACKED = 100;

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly toolCalls: Counter<'tool' | 'outcome'>;
  private readonly toolDuration: Histogram<'tool' | 'outcome'>;
  private readonly operations: Counter<'kind' | 'outcome'>;
  private readonly operationDuration: Histogram<'kind' | 'outcome'>;
  private readonly phaseDuration: Histogram<'kind' | 'phase'>;
  private readonly running: Gauge<'kind'>;
  private readonly phases = new Map<string, { kind: string; phase: string; at: number }>();
  private readonly unsubscribe: () => void;

  constructor(sources: MetricSources, opts: MetricsOptions, private readonly now: () => number = () => performance.now()) {
    const registers = [this.registry];
    this.toolCalls = new Counter({ name: 'loop_ops_tool_calls_total', help: 'MCP tool calls by tool and outcome (ok, error, denied).', labelNames: ['tool', 'outcome'], registers });
    this.toolDuration = new Histogram({
      name: 'loop_ops_tool_call_duration_seconds',
      help: 'Duration of MCP tool calls, policy to result.',
      labelNames: ['tool', 'outcome'],
      buckets: TOOL_BUCKETS,
      registers,
    });
    this.operations = new Counter({
      name: 'loop_ops_operations_total',
      help: 'Write operations (deploy, rollback, restart, stop, reset_oauth, recover) by kind and outcome.',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    this.operationDuration = new Histogram({
      name: 'loop_ops_operation_duration_seconds',
      help: 'Duration of write operations, lock to release.',
      labelNames: ['kind', 'outcome'],
      buckets: OPERATION_BUCKETS,
      registers,
    });
    this.phaseDuration = new Histogram({
      name: 'loop_ops_operation_phase_duration_seconds',
      help: 'Duration of each phase of a write operation (pull, build, start, health, switch, verify, …).',
      labelNames: ['kind', 'phase'],
      buckets: OPERATION_BUCKETS,
      registers,
    });
    this.running = new Gauge({ name: 'loop_ops_operations_running', help: 'Write operations running in this process.', labelNames: ['kind'], registers });

    const pool = sources.poolStats;
    if (pool) {
      new Gauge({
        name: 'loop_ops_ssh_connections',
        help: 'SSH connections to the NAS (all, and ready).',
        labelNames: ['state'],
        registers,
        collect() {
          const s = pool();
          this.set({ state: 'all' }, s.connections);
          this.set({ state: 'ready' }, s.readyConnections);
        },
      });
      new Gauge({ name: 'loop_ops_ssh_channels_active', help: 'SSH channels open on the pooled connections.', registers, collect() { this.set(pool().activeChannels); } });
      new Gauge({ name: 'loop_ops_ssh_channel_queue', help: 'Callers waiting for a free SSH channel.', registers, collect() { this.set(pool().waiting); } });
      new Counter({
        name: 'loop_ops_ssh_connects_total',
        help: 'SSH connections opened since start.',
        registers,
        collect() {
          this.reset();
          this.inc(pool().connectsOpened);
        },
      });
      new Counter({
        name: 'loop_ops_ssh_channel_retries_total',
        help: 'Channel opens refused by the NAS and retried.',
        registers,
        collect() {
          this.reset();
          this.inc(pool().channelRetries);
        },
      });
    }
    const jobs = sources.jobsRunning;
    if (jobs) new Gauge({ name: 'loop_ops_jobs_running', help: 'Long operations (jobs) running in this process.', registers, collect() { this.set(jobs()); } });
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry });

    this.unsubscribe = sources.operations?.subscribe(this.listener) ?? (() => {});
  }

  /** The guard's hook: one finished tool call. */
  observeToolCall(tool: string, outcome: string, durationMs: number): void {
    this.toolCalls.inc({ tool, outcome });
    this.toolDuration.observe({ tool, outcome }, durationMs / 1000);
  }

  /** Operation events → counters, durations, per-phase durations. */
  readonly listener: Partial<OperationEvents> = {
    started: (e) => {
      this.running.inc({ kind: e.kind });
      if (this.phases.size >= MAX_TRACKED) this.phases.delete(this.phases.keys().next().value!);
      this.phases.set(e.operationId, { kind: e.kind, phase: 'start', at: this.now() });
    },
    phase: (e) => {
      this.closePhase(e.operationId);
      this.phases.set(e.operationId, { kind: e.kind, phase: e.phase, at: this.now() });
    },
    finished: (e) => {
      const tracked = this.phases.has(e.operationId);
      this.closePhase(e.operationId);
      this.phases.delete(e.operationId);
      // A recovered operation started in another (dead) process: it was never counted as running here.
      if (tracked) this.running.dec({ kind: e.kind });
      this.operations.inc({ kind: e.kind, outcome: e.outcome });
      this.operationDuration.observe({ kind: e.kind, outcome: e.outcome }, e.durationMs / 1000);
    },
  };

  private closePhase(operationId: string): void {
    const p = this.phases.get(operationId);
    if (p) this.phaseDuration.observe({ kind: p.kind, phase: p.phase }, (this.now() - p.at) / 1000);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Stops listening to operations and empties the registry. */
  close(): void {
    this.unsubscribe();
    this.registry.clear();
  }
}
