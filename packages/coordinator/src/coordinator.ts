import { EventEmitter } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { randomBytes } from 'node:crypto';
import { Server as IoServer } from 'socket.io';
import { FlockError, PROTOCOL_VERSION, badMessage, specSize } from '@flock/protocol';
import { announceCoordinatorSealKey, announceSealSuites, deriveCoordinatorSealKey, generateIdentityKeyPair, toHex } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { checkStrategyFits, coordinatorSettingsSchema, type CoordinatorOptions, type CoordinatorSettings } from './options.js';
import { FedAvg, type Strategy } from './strategy.js';
import { MemoryModelStore, type ModelStore } from './model-store.js';
import { openFederationDatabase } from './store/database.js';
import { resumeFromDatabase, type Resumed } from './store/resume.js';
import { isPromiseLike, type FederationStore, type StoreLock } from './store/types.js';
import { UploadReceiver } from './uploads/receiver.js';
import { RateLimiter } from './rate-limit.js';
import { ClientAuthenticator } from './auth/authenticator.js';
import { MemoryClientRegistry } from './auth/memory-registry.js';
import { nullAuditLog, type AuditLog } from './admin/audit.js';
import { silentLogger } from './logger.js';
import { systemClock, Wakeups } from './round/clock.js';
import type { RoundSummary } from './round/commit.js';
import { RoundRunner, type Fleet } from './round/runner.js';
import type { FleetHooks } from './fleet/member.js';
import { Sessions } from './session/sessions.js';
import { EventRouter, uploadHost } from './session/events.js';
import { createHttpServer, frameBound, listen, serverUrl } from './http/server.js';
import { ServingService } from './serving/service.js';
import type { Predictor } from './serving/predictor.js';
import type { PredictContext } from './http/predict.js';
import { bearerOf } from './http/respond.js';
import { constantTimeEqual } from './auth/tokens.js';
import { CoordinatorMetrics } from './monitoring/metrics.js';
import { metricsRoute } from './monitoring/metrics-route.js';
import { RecentAuditLog } from './admin/recent-audit.js';
import { dashboardRoute } from './dashboard/route.js';
import { OperatorFeed } from './dashboard/feed.js';
import { originAllowed } from './http/cors.js';

export type { Logger } from './logger.js';
export type { RoundSummary } from './round/commit.js';
export type { CoordinatorOptions } from './options.js';

/**
 * The federation coordinator: a socket.io server that runs training rounds, aggregates
 * client updates with a Strategy, commits model versions and serves them over HTTP. This class
 * wires the parts: sessions (session/), the round loop (round/), the HTTP API (http/).
 *
 * Events: 'round' (RoundSummary), 'commit' (ModelVersion), 'done' (all rounds ran),
 * 'client:connect' / 'client:disconnect' (clientId), 'rejected' ({clientId, code}).
 */
export class Coordinator extends EventEmitter {
  readonly settings: CoordinatorSettings;
  readonly store: ModelStore;
  readonly strategy: Strategy;
  readonly numParams: number;
  readonly http: HttpServer | HttpsServer;
  readonly io: IoServer;
  /** Client authentication (tokens / open) and the registry behind it. */
  readonly auth: ClientAuthenticator;
  readonly audit: RecentAuditLog;
  /** Durable state, when the `database` option is given. */
  readonly database: FederationStore | undefined;
  /** Bytes of update payloads received and model weights served, since start. */
  readonly traffic = { up: 0, down: 0 };
  /** Deterministic aggregation order, for reproducible simulations (holds updates until the round ends). */
  deterministicOrder = false;
  private readonly tls: boolean;
  private readonly ownsDatabase: boolean;
  private readonly lock: StoreLock | undefined;
  private readonly fleetHooks: FleetHooks | undefined;
  private closed = false;
  /** Per-client and per-IP token buckets (rate-limit.ts). */
  private readonly limiter: RateLimiter;
  private readonly sessions: Sessions;
  private readonly runner: RoundRunner;
  private readonly feed: OperatorFeed;
  /** Inference, the serving version and server-side evaluation (serving/service.ts). */
  readonly serving: ServingService;
  /** Prometheus metrics (GET /metrics). */
  readonly metrics: CoordinatorMetrics;

  /**
   * Opens a coordinator on any store, resuming it first: needed for an asynchronous store
   * (PostgreSQL); `new Coordinator()` is enough for SQLite and in-memory state.
   */
  static async open(options: CoordinatorOptions): Promise<Coordinator> {
    const database = options.database;
    if (database === undefined || typeof database === 'string') return new Coordinator(options);
    const parsed = coordinatorSettingsSchema.safeParse(options.settings ?? {});
    if (!parsed.success) throw badMessage('coordinator settings', parsed.error);
    const strategy: Strategy = options.strategy ?? new FedAvg();
    strategy.checkSettings?.(parsed.data);
    // A fleet on one PostgreSQL database: every node shares it (its writes fenced by the leader's
    // token, fleet/shared-store.ts), and a running round is the leader's to end, not a crash.
    const shared = options.fleet !== undefined && database.backend === 'postgres';
    const lock = await database.lock(shared ? 'fleet' : 'exclusive');
    try {
      const resumed = await resumeFromDatabase(database, options.model, parsed.data, strategy, options.logger ?? silentLogger, { abandonRunning: !shared });
      return new Coordinator({ ...options, strategy }, { lock, resumed });
    } catch (err) {
      await lock?.release();
      throw err;
    }
  }

  /** `prepared`: the lock and resume state of {@link Coordinator.open} (internal). */
  constructor(options: CoordinatorOptions, prepared?: { lock: StoreLock | undefined; resumed: Resumed }) {
    super();
    const parsed = coordinatorSettingsSchema.safeParse(options.settings ?? {});
    if (!parsed.success) throw badMessage('coordinator settings', parsed.error);
    const settings = (this.settings = parsed.data);
    const logger = options.logger ?? silentLogger;
    this.strategy = options.strategy ?? new FedAvg();
    this.strategy.checkSettings?.(this.settings);
    this.ownsDatabase = typeof options.database === 'string';
    this.database = typeof options.database === 'string' ? openFederationDatabase(options.database) : options.database;
    const needsOpen = (): TypeError => new TypeError(`a ${this.database?.backend} store answers asynchronously: create the coordinator with await Coordinator.open(options)`);
    // One coordinator per database (store/lock.ts): a second one is refused before it resumes anything.
    let resumed: Resumed;
    try {
      const lock = prepared ? prepared.lock : this.database?.lock();
      if (isPromiseLike(lock)) {
        // Not ours to keep: let go of it once it arrives.
        Promise.resolve(lock).then((l) => l?.release(), () => undefined);
        throw needsOpen();
      }
      this.lock = lock;
      const r = prepared?.resumed ?? (this.database ? resumeFromDatabase(this.database, options.model, settings, this.strategy, logger) : undefined);
      if (isPromiseLike(r)) {
        Promise.resolve(r).catch(() => undefined);
        void lock?.release();
        throw needsOpen();
      }
      resumed = r ?? { store: new MemoryModelStore(options.model.topology, options.model.spec, options.model.weights, settings.keepVersions), roundCounter: 0, trainRoundsCommitted: 0, history: [] };
    } catch (err) {
      if (this.ownsDatabase) void this.database?.close();
      throw err;
    }
    this.store = resumed.store;
    this.numParams = specSize(this.store.spec);
    checkStrategyFits(this.strategy, settings);
    // Bound into every secure-aggregation message: a new value per coordinator run.
    const session = `${settings.federationId}:${randomBytes(8).toString('hex')}`;
    // Signs privacy receipts; its public half goes to clients in the welcome.
    const signingKey = options.signingKey ?? generateIdentityKeyPair(nodePlatform);
    const sealKey = deriveCoordinatorSealKey(signingKey);
    const wakeups = new Wakeups();
    const local: Fleet = {
      eligible: () => this.sessions.ids().filter((id) => this.strategy.eligible?.(id) ?? true),
      waitFor: async (n, signal) => {
        while (!signal.aborted && local.eligible().length < n) await wakeups.next();
      },
      send: (ids, event, msg) => this.sessions.send(ids, event, msg),
      connected: (id) => this.sessions.connected(id),
      broadcast: (event, msg) => this.sessions.send(this.sessions.ids(), event, msg),
    };
    // A fleet node (fleet/member.ts) selects and sends across every node's clients.
    this.fleetHooks = options.fleet;
    const fleet = options.fleet ? options.fleet.wrap(local) : local;
    const countUp = (n: number): number => (this.traffic.up += n);
    this.runner = new RoundRunner({
      settings,
      strategy: this.strategy,
      store: this.store,
      database: this.database,
      numParams: this.numParams,
      fleet,
      clock: systemClock,
      wakeups,
      logger,
      traffic: this.traffic,
      session,
      trustIdentity: (id, key) => this.sessions.trustSecAggIdentity(id, key),
      signingKey,
      deterministicOrder: () => this.deterministicOrder,
      dropUploads: (roundId) => uploads.dropRound(roundId),
      emit: (event, payload) => this.emit(event, payload),
      audit: (event) => this.audit.record(event),
      resumed,
      ...(options.fleet ? { admit: options.fleet.admit.bind(options.fleet), fence: options.fleet.fence, groupedSecure: true } : {}),
    });
    const uploads = new UploadReceiver({
      federationId: settings.federationId,
      numParams: this.numParams,
      chunkBytes: settings.uploads.chunkBytes,
      sealRequired: settings.uploads.sealRequired,
      sealKey,
      sealSuites: settings.uploads.sealSuites,
      platform: nodePlatform,
      host: uploadHost(this.runner, (clientId, socketId) => this.sessions.sessionIdentity(clientId, socketId), countUp),
    });
    this.limiter = new RateLimiter(settings.rateLimits);
    // The dashboard shows the recent records; everything still goes to the given log.
    this.audit = new RecentAuditLog(options.audit ?? nullAuditLog);
    this.auth = new ClientAuthenticator({ mode: settings.auth, federationId: settings.federationId, registry: options.registry ?? this.database?.registry ?? new MemoryClientRegistry(), platform: nodePlatform, audit: this.audit, challenges: options.fleet?.challenges?.(signingKey.secretKey) });
    const events = new EventRouter({ limiter: this.limiter, logger, emit: (e, p) => this.emit(e, p), rounds: this.runner, uploads, countUp });
    this.sessions = new Sessions({
      settings,
      store: this.store,
      auth: this.auth,
      authenticate: options.authenticate,
      audit: this.audit,
      logger,
      limiter: this.limiter,
      coordinatorKey: toHex(signingKey.publicKey),
      sealKey: { ...announceCoordinatorSealKey(signingKey, sealKey, settings.federationId), ...announceSealSuites(signingKey, settings.federationId, sealKey.publicKey, settings.uploads.sealSuites) },
      emit: (e, clientId) => {
        this.emit(e, clientId);
        // A collecting round may end early when its remaining members are gone (round/machine.ts).
        if (e === 'client:connect' || e === 'client:disconnect') this.runner.active?.membershipChanged(clientId);
      },
      listen: (socket, clientId) => events.listen(socket, clientId),
      dropped: (clientId, socketId) => uploads.dropSession(clientId, socketId),
      roundStart: (clientId) => this.runner.active?.restartFor(clientId),
      done: () => this.runner.doneMessage(),
      wake: () => wakeups.fire(),
    });
    this.on('round', (s: RoundSummary) => {
      if (s.status === 'committed') this.audit.record({ action: 'round.commit', actor: 'coordinator', requestId: s.roundId, outcome: 'ok', round: s.round, modelVersion: s.modelVersion, modelHash: s.modelHash, reporters: s.reporters.length });
    });
    this.tls = options.tls !== undefined;
    const security = {
      auth: this.auth,
      operatorToken: options.operatorToken,
      privateModels: options.privateModels === true,
      audit: this.audit,
      status: () => this.status(),
      rounds: () => this.runner.history.slice(-100),
      onlineClients: () => this.connectedClients,
      disconnect: (clientId: string, error: FlockError) => this.disconnectClient(clientId, error),
      pauseRounds: () => this.pauseRounds(),
      resumeRounds: () => this.resumeRounds(),
      roundsPaused: () => this.runner.paused,
      settings,
      limitRequest: (ip: string) => this.limiter.checkConnectionAddress(ip),
      serving: {
        status: () => this.serving.status(),
        promote: (version: number, reason: string) => this.serving.lifecycle.promote(version, 'operator', reason),
        rollback: (reason: string) => this.serving.lifecycle.rollback('operator', reason),
      },
      // The privacy accountant fixed its sampling rate at start-up: another fraction would
      // make every reported epsilon wrong.
      ...(this.strategy.receiptFields ? { lockedSettings: { fraction: 'the differential-privacy accountant assumes the sampling rate it was started with; restart the coordinator to change it' } } : {}),
    };
    const api = { store: this.store, servingVersion: () => this.servingVersion, status: () => this.status(), rounds: () => this.runner.history.slice(-100), onWeightsServed: (n: number) => (this.traffic.down += n), confidential: this.strategy.confidentialRounds === true };
    this.serving = new ServingService({ store: this.store, settings: settings.serving, audit: this.audit, database: this.database, logger, evalData: options.evalData });
    this.on('commit', (v: { version: number }) => this.serving.committed(v.version));
    this.on('round', (s: RoundSummary) => {
      if (s.kind === 'evaluate' && s.status === 'completed') this.serving.evaluatedFederated(s.modelVersion);
    });
    const predict: PredictContext = {
      store: this.store,
      predictor: this.serving.predictor,
      servingVersion: () => this.servingVersion,
      limit: (ip) => this.limiter.checkHttpRequest(ip),
      maxBatch: settings.serving.maxBatch,
      maxBodyBytes: settings.serving.maxBodyBytes,
      observe: (o) => this.metrics.predict(o),
    };
    const dp = this.strategy as { epsilon?(): number; ledgerEntries?(): Array<{ epsilon: number }> };
    this.metrics = new CoordinatorMetrics({
      clientsConnected: () => this.sessions.size,
      traffic: this.traffic,
      servingVersion: () => this.servingVersion,
      latestVersion: () => this.store.latest().version,
      ...(typeof dp.epsilon === 'function' ? { epsilon: () => dp.epsilon!() } : {}),
      ...(typeof dp.ledgerEntries === 'function' ? { maxClientEpsilon: () => dp.ledgerEntries!().reduce((m, e) => Math.max(m, e.epsilon), 0) } : {}),
    });
    this.on('round', (s: RoundSummary) => this.metrics.round(s));
    this.on('rejected', (r: { code: string }) => this.metrics.rejected(r.code));
    this.on('secagg', (stages: Array<{ stage: string; seconds: number; expected: number; received: number }>) => this.metrics.secagg(stages));
    const isOperator = (req: { headers: Record<string, unknown> }): boolean => {
      const t = bearerOf(req as Parameters<typeof bearerOf>[0]);
      return options.operatorToken !== undefined && t !== undefined && constantTimeEqual(t, options.operatorToken);
    };
    const metrics = metricsRoute({ metrics: this.metrics, publicMetrics: options.publicMetrics === true, confidential: this.strategy.confidentialRounds === true, isOperator, limit: (ip) => this.limiter.checkHttpRequest(ip) });
    const cors = { origins: settings.corsOrigins };
    this.http = createHttpServer({ security, api, logger, tls: options.tls, cors, serving: { predict, extra: [metrics, dashboardRoute((ip) => this.limiter.checkHttpRequest(ip))] } });
    // An update is one float32 per parameter plus a small envelope; anything larger closes only
    // the offending connection (engine.io enforces this per message). Updates arrive in chunks
    // (protocol/v1.md 5.4a), so no frame needs to be larger than one sealed chunk plus its
    // envelope; SecAgg masked inputs are still one frame of the model size.
    this.io = new IoServer(this.http, { maxHttpBufferSize: settings.maxHttpBufferSize ?? frameBound(settings, this.numParams), serveClient: false,
      // Browsers send an Origin with the WebSocket upgrade (CORS does not cover WebSockets):
      // refuse pages from origins the operator did not allow; Node clients send none.
      cors: { origin: cors.origins.includes('*') ? '*' : [...cors.origins] },
      allowRequest: (req, cb) => cb(null, originAllowed(req.headers.origin, cors)),
    });
    this.sessions.attach(this.io);
    this.feed = new OperatorFeed(this.io, {
      store: this.store,
      serving: this.serving,
      audit: this.audit,
      operatorToken: options.operatorToken,
      status: () => this.status(),
      live: () => {
        const r = this.runner.active;
        if (!r) return undefined;
        const p = r.progress();
        return { stage: r.secure ? `secure aggregation: ${r.secure.currentStage}` : r.collecting ? 'collecting' : 'aggregating', dropped: p.rejected + p.disconnected };
      },
      rounds: () => this.runner.history,
      privacy: () => (typeof dp.epsilon === 'function' ? { epsilon: dp.epsilon(), ...(typeof dp.ledgerEntries === 'function' ? { maxClientEpsilon: dp.ledgerEntries().reduce((m, e) => Math.max(m, e.epsilon), 0) } : {}), ...(this.strategy.receiptFields ? { delta: this.strategy.receiptFields().delta } : {}) } : undefined),
      limit: (ip) => this.limiter.checkConnectionAddress(ip),
      on: (event, fn) => this.on(event, fn),
    });
    options.fleet?.attach({
      runner: this.runner,
      store: this.store,
      database: this.database,
      io: this.io,
      settings,
      strategy: this.strategy,
      numParams: this.numParams,
      logger,
      clock: systemClock,
      coordinatorKey: toHex(signingKey.publicKey),
      deterministic: () => this.deterministicOrder,
      session,
      trustIdentity: (id, key) => this.sessions.trustSecAggIdentity(id, key),
      emit: (event, payload) => this.emit(event, payload),
      on: (event, fn) => this.on(event, fn),
    });
    // One database for the fleet: one serving version too (an operator's rollback on any node).
    if (options.fleet && this.database?.backend === 'postgres') this.serving.followSharedLog(1000);
  }

  /** Starts listening; resolves with the base URL (http://host:port). */
  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    await listen(this.http, port, host);
    return this.url;
  }

  get url(): string {
    return serverUrl(this.http, this.tls);
  }

  /** Starts the round loop (idempotent). */
  start(): void {
    if (this.closed) return;
    this.serving.start();
    // A fleet node runs rounds only while it holds the lease (fleet/member.ts).
    if (this.fleetHooks) this.fleetHooks.start();
    else this.runner.start();
  }

  /** Resolves when the configured number of training rounds has committed. */
  async whenDone(): Promise<void> {
    if (this.runner.trainRoundsCommitted >= this.settings.rounds) return;
    await new Promise<void>((resolve) => this.once('done', resolve));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fleetHooks?.close();
    await this.runner.close();
    this.feed.close();
    await this.serving.close();
    await new Promise<void>((resolve) => this.io.close(() => resolve()));
    if (this.http.listening) await new Promise<void>((resolve) => this.http.close(() => resolve()));
    await this.lock?.release();
    if (this.ownsDatabase) await this.database?.close();
  }

  status(): Record<string, unknown> {
    const latest = this.store.latest();
    const r = this.runner.active;
    return {
      ok: true,
      federationId: this.settings.federationId,
      protocolVersion: PROTOCOL_VERSION,
      clients: this.sessions.size,
      round: this.runner.roundCounter,
      activeRound: r ? { round: r.round, kind: r.kind, selected: r.cohort.size, reported: r.reporters.length } : null,
      modelVersion: latest.version,
      modelHash: latest.hash,
      trainRoundsCommitted: this.runner.trainRoundsCommitted,
    };
  }

  /** The model version `serving` names. */
  get servingVersion(): number {
    return this.serving.serving;
  }

  /** The inference worker (started on first use). */
  get predictor(): Predictor {
    return this.serving.predictor;
  }

  get connectedClients(): string[] {
    return this.sessions.ids();
  }

  get rounds(): readonly RoundSummary[] {
    return this.runner.history;
  }

  /** Closes a client's live session with a typed error (revocation, replacement); false if offline. */
  disconnectClient(clientId: string, error: FlockError): boolean {
    return this.sessions.disconnect(clientId, error);
  }

  /** Stops starting new rounds (the active one finishes); resumeRounds() continues. */
  pauseRounds(): void {
    this.runner.pause();
  }

  resumeRounds(): void {
    this.runner.resume();
  }

  get paused(): boolean {
    return this.runner.paused;
  }
}
