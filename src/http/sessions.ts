/**
 * MCP sessions over HTTP: one `McpServer` and one transport per session
 * (sharing a server across sessions breaks concurrent clients). Each session
 * is bound to the principal that opened it, is touched on every request, and
 * is closed after `idleTimeoutMs` without requests (never while a tool call
 * of it is still running). Open sessions are capped in total and per
 * principal, so one client cannot take every slot.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Logger } from '../log.js';
import type { TransportKind } from '../tools/types.js';

export interface Session {
  id: string;
  kind: Exclude<TransportKind, 'stdio'>;
  /** Who opened it (`req.auth.clientId`); other principals cannot use it. */
  principal: string;
  server: McpServer;
  transport: Transport;
  createdAt: number;
  lastSeen: number;
}

export interface SessionRegistryOptions {
  idleTimeoutMs: number;
  /** All principals together. */
  maxSessions: number;
  /** Per principal (default: maxSessions). */
  maxPerPrincipal?: number;
  log: Logger;
  /** Tool calls of this session still in flight? Busy sessions do not expire. */
  busy(sessionId: string): boolean;
  now?: () => number;
}

export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  /** Slots reserved by sessions being opened, per principal. */
  private readonly pending = new Map<string, number>();
  private pendingTotal = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(private readonly opts: SessionRegistryOptions) {
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.sessions.size;
  }

  get full(): boolean {
    return this.sessions.size + this.pendingTotal >= this.opts.maxSessions;
  }

  /** Open sessions of `principal` (plus those being opened). */
  countFor(principal: string): number {
    let n = this.pending.get(principal) ?? 0;
    for (const s of this.sessions.values()) if (s.principal === principal) n++;
    return n;
  }

  /**
   * Holds a slot for a session `principal` is opening (initialize can await
   * before `add`, so concurrent opens must not all pass the check). Returns
   * `release` (call it once, whether or not the session was added), or why not.
   */
  reserve(principal: string): { release: () => void } | { refused: 'server' | 'principal'; limit: number } {
    if (this.full) return { refused: 'server', limit: this.opts.maxSessions };
    const perPrincipal = this.opts.maxPerPrincipal ?? this.opts.maxSessions;
    if (this.countFor(principal) >= perPrincipal) return { refused: 'principal', limit: perPrincipal };
    this.pending.set(principal, (this.pending.get(principal) ?? 0) + 1);
    this.pendingTotal++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.pendingTotal--;
        const n = (this.pending.get(principal) ?? 1) - 1;
        if (n > 0) this.pending.set(principal, n);
        else this.pending.delete(principal);
      },
    };
  }

  add(s: Omit<Session, 'createdAt' | 'lastSeen'>): Session {
    const t = this.now();
    const session: Session = { ...s, createdAt: t, lastSeen: t };
    this.sessions.set(s.id, session);
    this.opts.log.info({ session: s.id, kind: s.kind, principal: s.principal, sessions: this.sessions.size }, 'session opened');
    return session;
  }

  /** The session, if it exists and belongs to `principal`; touches it. */
  use(id: string, principal: string): Session | undefined {
    const s = this.sessions.get(id);
    if (!s || s.principal !== principal) return undefined;
    s.lastSeen = this.now();
    return s;
  }

  has(id: string): boolean {
    return this.sessions.has(id);
  }

  /** Drops the record (the transport closed by itself). */
  forget(id: string): void {
    if (this.sessions.delete(id)) {
      this.opts.log.info({ session: id, sessions: this.sessions.size }, 'session closed');
    }
  }

  /** Closes the session's server and transport. */
  async close(id: string, why: string): Promise<void> {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    this.opts.log.info({ session: id, why, sessions: this.sessions.size }, 'session closed');
    try {
      await s.server.close();
    } catch (e) {
      this.opts.log.debug({ session: id, err: (e as Error).message }, 'error closing session');
    }
  }

  /** Closes sessions idle longer than the timeout. Returns the ids closed. */
  async sweep(): Promise<string[]> {
    const t = this.now();
    const expired: string[] = [];
    for (const s of this.sessions.values()) {
      if (t - s.lastSeen <= this.opts.idleTimeoutMs) continue;
      if (this.opts.busy(s.id)) {
        s.lastSeen = t; // the idle clock restarts when its calls end
        continue;
      }
      expired.push(s.id);
    }
    await Promise.all(expired.map((id) => this.close(id, 'idle timeout')));
    return expired;
  }

  startSweeper(): void {
    if (this.timer) return;
    const every = Math.min(60_000, Math.max(1_000, Math.floor(this.opts.idleTimeoutMs / 4)));
    this.timer = setInterval(() => {
      this.sweep().catch((e) => this.opts.log.error({ err: (e as Error).message }, 'session sweep failed'));
    }, every);
    this.timer.unref();
  }

  stopSweeper(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async closeAll(why: string): Promise<void> {
    this.stopSweeper();
    await Promise.all([...this.sessions.keys()].map((id) => this.close(id, why)));
  }
}
