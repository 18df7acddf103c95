import type { Namespace, Server as IoServer, Socket } from 'socket.io';
import { FlockError } from '@flock/protocol';
import type { ModelStore } from '../model-store.js';
import type { RoundSummary } from '../round/commit.js';
import type { RecentAuditLog } from '../admin/recent-audit.js';
import type { ServingService } from '../serving/service.js';
import { constantTimeEqual } from '../auth/tokens.js';

/** The operator socket.io namespace of the dashboard. */
export const OPERATOR_NAMESPACE = '/operator';

export interface FeedSource {
  store: ModelStore;
  serving: ServingService;
  audit: RecentAuditLog;
  operatorToken: string | undefined;
  status(): Record<string, unknown>;
  /** The running round's live figures: stage and dropped (rejected + disconnected) members; undefined when idle. */
  live(): { stage: string; dropped: number } | undefined;
  rounds(): readonly RoundSummary[];
  privacy(): { epsilon: number; maxClientEpsilon?: number; delta?: number } | undefined;
  /** Per-address connection limit (undefined = allowed). */
  limit(remoteAddress: string): FlockError | undefined;
  on(event: 'round', fn: (s: RoundSummary) => void): void;
}

interface VersionPoint {
  version: number;
  round: number;
  createdAt: string;
  metrics: Record<string, number>;
}

/**
 * Live updates for the dashboard over an authenticated socket.io namespace: a snapshot on
 * connect, then pushes (round progress when it changes, finished rounds, version metrics,
 * serving changes, audit records). Nothing is sent while no operator is connected; the
 * operator sees everything the admin API shows (cohort counts included).
 */
export class OperatorFeed {
  private readonly ns: Namespace;
  private readonly versions = new Map<number, VersionPoint>();
  private lastProgress = '';
  private readonly timer: NodeJS.Timeout;

  constructor(
    io: IoServer,
    private readonly src: FeedSource,
  ) {
    this.ns = io.of(OPERATOR_NAMESPACE);
    this.ns.use((socket, next) => {
      const limited = src.limit(socket.handshake.address);
      if (limited) return next(Object.assign(new Error(limited.message), { data: limited.toEnvelope() }));
      const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
      if (src.operatorToken === undefined || typeof token !== 'string' || token.length > 512 || !constantTimeEqual(token, src.operatorToken)) {
        const e = new FlockError('UNAUTHORIZED', src.operatorToken === undefined ? 'the dashboard is disabled: no operator token configured' : 'wrong operator token');
        src.audit.record({ action: 'dashboard.refused', actor: 'anonymous', requestId: socket.id, outcome: 'refused', remote: socket.handshake.address });
        return next(Object.assign(new Error(e.message), { data: e.toEnvelope() }));
      }
      next();
    });
    this.ns.on('connection', (socket: Socket) => {
      src.audit.record({ action: 'dashboard.connect', actor: 'operator', requestId: socket.id, outcome: 'ok', remote: socket.handshake.address });
      socket.emit('snapshot', this.snapshot());
    });
    const latest = src.store.latest().version;
    for (let v = Math.max(0, latest - 19); v <= latest; v++) this.refreshVersion(v, false);
    src.on('round', (s) => {
      this.refreshVersion(s.modelVersion);
      this.ns.emit('round', s);
      this.pushProgress();
    });
    src.serving.lifecycle.on('change', () => {
      this.refreshVersion(src.serving.serving);
      this.ns.emit('serving', src.serving.status());
    });
    src.serving.on('evaluated', (version: number) => this.refreshVersion(version));
    src.audit.on('record', (e: unknown) => this.ns.emit('audit', e));
    this.timer = setInterval(() => this.pushProgress(), 500);
    this.timer.unref();
  }

  private refreshVersion(version: number, push = true): void {
    const v = this.src.store.get(version);
    if (!v) return;
    const point = { version: v.version, round: v.round, createdAt: v.createdAt, metrics: v.metrics };
    this.versions.set(version, point);
    while (this.versions.size > 500) this.versions.delete(Math.min(...this.versions.keys()));
    if (push) this.ns.emit('version', point);
  }

  private progress(): Record<string, unknown> {
    const s = this.src.status();
    const live = this.src.live();
    return { activeRound: s.activeRound ? { ...(s.activeRound as object), ...live } : null, clients: s.clients, round: s.round, modelVersion: s.modelVersion, trainRoundsCommitted: s.trainRoundsCommitted, privacy: this.src.privacy() ?? null };
  }

  /** Pushes the live progress when it changed and someone is watching. */
  private pushProgress(): void {
    if (this.ns.sockets.size === 0) return;
    const p = this.progress();
    const text = JSON.stringify(p);
    if (text === this.lastProgress) return;
    this.lastProgress = text;
    this.ns.emit('progress', p);
  }

  snapshot(): Record<string, unknown> {
    return {
      status: this.src.status(),
      progress: this.progress(),
      rounds: this.src.rounds().slice(-100),
      versions: [...this.versions.values()].sort((a, b) => a.version - b.version),
      serving: this.src.serving.status(),
      audit: this.src.audit.last(50),
    };
  }

  close(): void {
    clearInterval(this.timer);
  }
}
