/**
 * The deploy dashboard, running in the host's sandboxed iframe (MCP Apps).
 * It has no network access of its own (CSP connect-src 'none'): everything
 * goes through the host with `App` over postMessage —
 *   - the `dashboard` tool's result arrives as `ui/notifications/tool-result`;
 *   - refreshes call `status` (structuredContent);
 *   - Rollback calls `rollback`; the host may ask the user first, and the
 *     server's own guards (scopes, lock, audit) apply either way.
 * Everything from the NAS is inserted as text (textContent), never as HTML.
 */
import { App, applyDocumentTheme, applyHostFonts, applyHostStyleVariables } from '@modelcontextprotocol/ext-apps';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
// Types only (erased by esbuild): the view reads exactly what the tools' output schemas promise.
import type { dashboardTool } from '../../tools/dashboard.js';
import type { statusOutputShape } from '../../tools/status.js';
import type { rollbackTool } from '../../tools/write.js';

type StatusData = z.output<z.ZodObject<ReturnType<typeof statusOutputShape>>>;
type DashboardData = z.output<z.ZodObject<(typeof dashboardTool)['outputSchema']>>;
type Actions = DashboardData['actions'];
type Container = NonNullable<StatusData['colors']['blue']>;
type Deployment = StatusData['recentDeployments'][number];
type RollbackData = z.output<z.ZodObject<(typeof rollbackTool)['outputSchema']>>;
type Color = 'blue' | 'green';

const HISTORY = 10;
const REFRESH_MS = 15_000;
/** While a rollback runs: fast enough to see the lock and the phases go by. */
const BUSY_REFRESH_MS = 1_000;

const state: {
  data: StatusData | null;
  actions: Actions;
  busy: boolean;
  confirming: { label: string; args: Record<string, unknown> } | null;
  notice: { kind: 'ok' | 'error' | 'warn'; text: string } | null;
} = { data: null, actions: { rollback: false, rollbackTo: false }, busy: false, confirming: null, notice: null };

const root = document.getElementById('root')!;

// ---------------------------------------------------------------------------
// DOM helpers

type Child = Node | string | null | undefined | false;
function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | boolean | ((e: Event) => void)> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else if (v !== false) el.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

function duration(sec: number): string {
  if (sec < 60) return `${sec}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m`;
  if (sec < 86400) return `${Math.floor(sec / 3600)}h ${Math.floor((sec % 3600) / 60)}m`;
  return `${Math.floor(sec / 86400)}d ${Math.floor((sec % 86400) / 3600)}h`;
}

function when(iso: string | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

const healthClass = (c: Container) =>
  c.state !== 'running' ? 'bad' : c.health === 'healthy' ? 'ok' : c.health === 'unhealthy' ? 'bad' : c.health === 'starting' ? 'warn' : '';

// ---------------------------------------------------------------------------
// Rendering

function colorCard(color: Color, c: Container | null, live: boolean): HTMLElement {
  const title = h('h3', {}, h('span', { class: `badge ${color}` }, color), live ? h('span', { class: 'badge ok', 'data-testid': `live-badge-${color}` }, 'LIVE') : h('span', { class: 'muted' }, 'idle'));
  if (!c) return h('section', { class: `card ${color}`, 'data-testid': `color-${color}` }, title, h('p', { class: 'muted' }, 'no container'));
  const health = c.state === 'running' ? (c.health === 'none' ? 'running (no healthcheck)' : c.health) : `${c.state}${c.exitCode !== null ? ` (exit ${c.exitCode})` : ''}`;
  return h(
    'section',
    { class: `card ${color}${live ? ' live' : ''}`, 'data-testid': `color-${color}` },
    title,
    h(
      'dl',
      { class: 'kv' },
      h('dt', {}, 'version'),
      h('dd', { class: 'version', 'data-testid': `version-${color}` }, c.version ?? '?'),
      h('dt', {}, 'health'),
      h('dd', {}, h('span', { class: `badge ${healthClass(c)}`, 'data-testid': `health-${color}` }, health)),
      h('dt', {}, 'uptime'),
      h('dd', {}, c.uptimeSeconds !== null ? duration(c.uptimeSeconds) : '—'),
      h('dt', {}, 'restarts'),
      h('dd', {}, String(c.restartCount)),
      h('dt', {}, 'image'),
      h('dd', { class: 'muted' }, c.image),
    ),
  );
}

function operationPanel(d: StatusData): HTMLElement {
  const op = d.interruptedOperation;
  const lines: Child[] = [];
  if (d.lock.held) {
    lines.push(h('div', { 'data-testid': 'lock' }, h('span', { class: 'badge warn' }, 'lock held'), ` by ${d.lock.holder ?? '?'} for ${d.lock.operation ?? '?'} since ${when(d.lock.since)}`));
  } else {
    lines.push(h('div', { 'data-testid': 'lock' }, h('span', { class: 'badge ok' }, 'lock free'), ' no operation holds the deploy lock'));
  }
  if (op) {
    const running = d.lock.held && d.lock.operationId === op.operationId;
    lines.push(
      h(
        'div',
        { 'data-testid': 'operation' },
        h('span', { class: `badge ${running ? 'warn' : 'bad'}` }, running ? 'running' : 'interrupted'),
        ` ${op.kind} ${op.operationId} — phase `,
        h('strong', {}, op.phase),
        ` (updated ${when(op.updatedAt)})`,
        running ? null : ' — run recover',
      ),
    );
  }
  return h('section', { class: 'card' }, h('h2', {}, 'Lock and operations'), ...lines);
}

function actionsPanel(d: StatusData): HTMLElement | null {
  if (!state.actions.rollback) return null;
  const live = d.liveColor;
  const target: Color | null = live === 'blue' ? 'green' : live === 'green' ? 'blue' : null;
  const tc = target ? d.colors[target] : null;
  const blocked = !target ? 'the live color is unknown' : !tc ? `there is no ${target} container` : d.lock.held ? 'an operation holds the lock' : null;
  const label = target ? `Roll back to ${target}${tc?.version ? ` (v${tc.version})` : ''}` : 'Roll back';
  const confirming = state.confirming;
  const body: Child[] = confirming
    ? [
        h('span', {}, `${confirming.label}: switch live traffic?`),
        h('button', { class: 'danger', 'data-testid': 'confirm-rollback', disabled: state.busy, onclick: () => void runRollback() }, 'Yes, roll back'),
        h('button', { 'data-testid': 'cancel-rollback', disabled: state.busy, onclick: () => ((state.confirming = null), render()) }, 'Cancel'),
      ]
    : [
        h('button', { class: 'danger', 'data-testid': 'rollback', disabled: state.busy || blocked !== null, onclick: () => askRollback(label, {}) }, label),
        blocked ? h('span', { class: 'muted' }, `(${blocked})`) : null,
      ];
  return h('section', { class: 'row' }, ...body);
}

function timeline(d: StatusData): HTMLElement {
  const items = d.recentDeployments.map((r: Deployment) => {
    const current = r.id === d.upstream.deploymentId;
    const canReturn = state.actions.rollbackTo && r.kind === 'deploy' && !current && r.outcome === 'succeeded' && r.toColor !== null && !d.lock.held;
    return h(
      'li',
      { class: r.outcome, title: r.message ?? '' },
      h('time', {}, when(r.endedAt ?? r.startedAt)),
      ' ',
      h('strong', {}, r.kind),
      ` ${r.fromColor ?? '–'} → ${r.toColor ?? '–'}`,
      r.version ? h('span', { class: 'version' }, ` v${r.version}`) : null,
      ' ',
      h('span', { class: `badge ${r.outcome === 'succeeded' ? 'ok' : r.outcome === 'running' ? 'warn' : 'bad'}` }, r.outcome),
      r.who ? h('span', { class: 'muted' }, ` by ${r.who}`) : null,
      current ? h('span', { class: 'badge' }, 'serving') : null,
      canReturn
        ? h('button', { class: 'small', 'data-testid': `rollback-to-${r.id}`, disabled: state.busy, onclick: () => askRollback(`Return to deployment ${r.id}`, { to: r.id }) }, 'roll back to this')
        : null,
    );
  });
  return h(
    'section',
    {},
    h('h2', {}, 'Recent deployments'),
    items.length ? h('ol', { class: 'timeline', 'data-testid': 'timeline' }, ...items) : h('p', { class: 'muted' }, 'No deployments recorded yet.'),
  );
}

function render(): void {
  const d = state.data;
  const notice = state.notice ? h('div', { class: `notice ${state.notice.kind}`, 'data-testid': 'notice', role: 'status' }, state.notice.text) : null;
  if (!d) {
    root.replaceChildren(notice ?? h('p', { class: 'muted' }, 'Waiting for the status…'));
    return;
  }
  const live = d.liveColor;
  const parts: Child[] = [
    h(
      'header',
      { class: 'row' },
      h(
        'h1',
        {},
        d.app,
        h('span', { class: 'muted' }, 'live:'),
        h('span', { class: `badge ${live ?? 'bad'}`, 'data-testid': 'live-color' }, live ?? 'UNKNOWN'),
        live && d.colors[live]?.version ? h('span', { class: 'version', 'data-testid': 'live-version' }, `v${d.colors[live]!.version}`) : null,
      ),
      h('span', { class: 'spacer' }),
      h('span', { class: 'muted', 'data-testid': 'checked-at' }, `checked ${when(d.checkedAt)}`),
      h('button', { class: 'small', 'data-testid': 'refresh', disabled: state.busy, onclick: () => void refresh() }, 'Refresh'),
    ),
    notice,
    ...d.warnings.map((w) => h('div', { class: 'notice warn' }, w)),
    h('div', { class: 'colors' }, colorCard('blue', d.colors.blue, live === 'blue'), colorCard('green', d.colors.green, live === 'green')),
    operationPanel(d),
    actionsPanel(d),
    timeline(d),
  ];
  root.replaceChildren(...parts.filter((p): p is Node | string => Boolean(p)));
}

// ---------------------------------------------------------------------------
// Talking to the host

const app = new App({ name: 'loop-ops-dashboard', version: '1.0.0' }, {}, { autoResize: true });

const textOf = (r: CallToolResult) =>
  r.content
    .map((c) => (c.type === 'text' ? c.text : ''))
    .join('\n')
    .trim();

function take(r: CallToolResult): void {
  if (r.isError) {
    state.notice = { kind: 'error', text: textOf(r) || 'the call failed' };
    return;
  }
  const sc = r.structuredContent as Partial<DashboardData> | undefined;
  if (sc && typeof sc.app === 'string') {
    if (sc.actions) state.actions = sc.actions;
    state.data = sc as StatusData;
  }
}

/** The host's reason, without the JSON-RPC wrapping ("MCP error -32603: …"). */
const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e)).replace(/^MCP error -?\d+: /, '');

let refreshing: Promise<void> | null = null;

/** Calls `status` through the host; one call at a time (a slow NAS must not pile them up). */
function refresh(): Promise<void> {
  refreshing ??= (async () => {
    try {
      take(await app.callServerTool({ name: 'status', arguments: { history: HISTORY } }));
    } catch (e) {
      state.notice = { kind: 'error', text: `refresh failed: ${errorText(e)}` };
    } finally {
      refreshing = null;
    }
    render();
  })();
  return refreshing;
}

function askRollback(label: string, args: Record<string, unknown>): void {
  state.confirming = { label, args };
  state.notice = null;
  render();
}

/** One line for the user from rollback's job result (the text content is for models). */
function rollbackOutcome(r: CallToolResult): { kind: 'ok' | 'error' | 'warn'; text: string } {
  const job = r.structuredContent as RollbackData | undefined;
  if (r.isError || !job) return { kind: 'error', text: textOf(r) || 'rollback failed' };
  const res = (job.result ?? {}) as { fromColor?: string; toColor?: string; version?: string; durationMs?: number; message?: string; error?: string };
  if (job.state === 'running') return { kind: 'warn', text: `Rollback still running (job ${job.jobId}, phase ${job.phase}); this view keeps refreshing.` };
  if (job.state === 'failed') return { kind: 'error', text: `Rollback failed at phase ${job.phase}: ${res.error ?? res.message ?? textOf(r)}` };
  const took = typeof res.durationMs === 'number' ? ` in ${(res.durationMs / 1000).toFixed(1)} s` : '';
  return { kind: 'ok', text: `Rolled back${res.fromColor && res.toColor ? ` ${res.fromColor} → ${res.toColor}` : ''}${res.version ? ` (v${res.version})` : ''}${took}.` };
}

async function runRollback(): Promise<void> {
  const c = state.confirming;
  if (!c) return;
  state.busy = true;
  state.notice = { kind: 'warn', text: `${c.label}…` };
  render();
  // Follow the operation (lock, phase) while the call runs.
  const follow = setInterval(() => void refresh(), BUSY_REFRESH_MS);
  try {
    const r = await app.callServerTool({ name: 'rollback', arguments: c.args });
    state.notice = rollbackOutcome(r);
  } catch (e) {
    // The host refused (the user declined) or the call could not be made: nothing changed on our side.
    state.notice = { kind: 'error', text: `rollback not done: ${errorText(e)}` };
  } finally {
    clearInterval(follow);
    state.busy = false;
    state.confirming = null;
  }
  await refreshing; // one that started before the rollback ended may show the old color
  await refresh();
}

function applyContext(ctx: ReturnType<App['getHostContext']>): void {
  if (!ctx) return;
  if (ctx.theme) applyDocumentTheme(ctx.theme);
  if (ctx.styles?.variables) applyHostStyleVariables(ctx.styles.variables);
  if (ctx.styles?.css?.fonts) applyHostFonts(ctx.styles.css.fonts);
}

// Handlers first: the host may send the tool result right after initialization.
app.ontoolresult = (r) => {
  take(r as CallToolResult);
  render();
};
app.onhostcontextchanged = (ctx) => applyContext(ctx);

async function main(): Promise<void> {
  await app.connect();
  applyContext(app.getHostContext());
  setInterval(() => {
    if (!state.busy && !state.confirming && document.visibilityState !== 'hidden') void refresh();
  }, REFRESH_MS);
}

main().catch((e: unknown) => {
  state.notice = { kind: 'error', text: `could not connect to the host: ${(e as Error).message}` };
  render();
});
