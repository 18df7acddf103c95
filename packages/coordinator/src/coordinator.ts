import { EventEmitter } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { randomBytes } from 'node:crypto';
import { Server as IoServer, type Socket } from 'socket.io';
import {
  EVENTS,
  FlockError,
  PROTOCOL_VERSION,
  asBytes,
  badMessage,
  binarySchema,
  declineSchema,
  decodeFloat32,
  evaluateReportSchema,
  firstNonFinite,
  handshakeAuthSchema,
  specSize,
  updateMetaSchema,
  type Ack,
  type ErrorEnvelope,
  type HandshakeAuth,
  type RoundEnd,
  type RoundStart,
  type TrainConfig,
  type Welcome,
} from '@flock/protocol';
import type { FlatModel } from '@flock/model';
import { silentLogger, type Logger } from './logger.js';
import type { RoundSummary } from './round/commit.js';
import { resumeFromDatabase } from './store/resume.js';
import { createHttpServer, frameBound, listen, serverUrl } from './http/server.js';
import { coordinatorSettingsSchema, type CoordinatorSettings, type CoordinatorSettingsInput } from './options.js';
import { FedAvg, type FitContext, type Strategy } from './strategy.js';
import { MemoryModelStore, type ModelStore } from './model-store.js';
import { openFederationDatabase, type FederationDatabase } from './store/database.js';
import { cohortSize, selectCohort, selectionKey, selectPoisson } from './selection.js';
import type { AggregateResult, UpdateAggregator } from './aggregator.js';
import { SecureCollector } from './secure-collector.js';
import { UploadReceiver } from './uploads/receiver.js';
import { RateLimiter } from './rate-limit.js';
import { UPLOAD_EVENTS, type UploadBegin } from '@flock/protocol';
import { announceCoordinatorSealKey, deriveCoordinatorSealKey } from '@flock/privacy';
import { assertSecAggCompatible } from './strategies/index.js';
import { nodePlatform } from '@flock/privacy/node';
import { fromHex, generateIdentityKeyPair, signReceipt, toHex, type IdentityKeyPair, type SignedReceipt } from '@flock/privacy';
import { ClientAuthenticator } from './auth/authenticator.js';
import { MemoryClientRegistry } from './auth/memory-registry.js';
import type { ClientRegistry } from './auth/registry.js';
import { nullAuditLog, type AuditLog } from './admin/audit.js';

/** Anonymous clients whose SecAgg identity is remembered; the oldest pin is forgotten beyond this. */
const MAX_SECAGG_PINS = 100_000;

export type { Logger } from './logger.js';
export type { RoundSummary } from './round/commit.js';

export interface CoordinatorOptions {
  /** The initial global model (topology + weights). */
  model: FlatModel;
  settings?: CoordinatorSettingsInput;
  strategy?: Strategy;
  /** Ed25519 key pair (tweetnacl layout) that signs privacy receipts; default: a fresh one per run. */
  signingKey?: IdentityKeyPair;
  /** Checks a handshake; throw a FlockError (e.g. UNAUTHORIZED) to refuse the connection. */
  authenticate?: (auth: HandshakeAuth) => void | Promise<void>;
  logger?: Logger;
  /**
   * Durable state (docs/explanation/durability.md): a SQLite file path (':memory:' for tests;
   * the coordinator opens it and closes it in close()) or an open FederationDatabase (the
   * caller closes it). An existing database is resumed: its latest model, round counter and
   * strategy state win over `model`. Without it everything lives in memory.
   */
  database?: string | FederationDatabase;
  /** Enrollment tokens and client identities (settings.auth 'tokens'); default: in memory. */
  registry?: ClientRegistry;
  /** Audit log of admin actions, enrolments, revocations, refused handshakes and commits. */
  audit?: AuditLog;
  /** Bearer token of the operator admin API (/v1/admin/...); unset: the admin API is disabled. */
  operatorToken?: string;
  /** Model and round endpoints require a client session token or the operator token. */
  privateModels?: boolean;
  /** PEM certificate chain and key: serve https/wss instead of http/ws. */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

interface ActiveRound {
  roundId: string;
  round: number;
  kind: 'train' | 'evaluate';
  modelVersion: number;
  cohort: Set<string>;
  /** Clients that need not be waited for any more (reported, rejected or declined). */
  settled: Set<string>;
  reporters: string[];
  rejected: Array<{ clientId: string; code: string }>;
  deadline: number;
  collecting: boolean;
  aggregator: UpdateAggregator | undefined;
  /** Held only with deterministicOrder: updates are summed in client-id order at the end. */
  held: Map<string, { delta: Float32Array; weight: number }>;
  metricSums: Map<string, number>;
  /** Examples behind each metric key (not every client reports every metric). */
  metricWeights: Map<string, number>;
  numExamples: number;
  /** Present when the round aggregates securely. */
  secure: SecureCollector | undefined;
  /** The round:start message, re-sent to a cohort member that reconnects mid-round. */
  start: RoundStart | undefined;
  finish: () => void;
}

/** Pulls the trailing ack callback (if any) off socket.io event arguments. */
function splitAck(args: unknown[]): { args: unknown[]; ack: ((a: Ack) => void) | undefined } {
  const last = args[args.length - 1];
  if (typeof last === 'function') return { args: args.slice(0, -1), ack: last as (a: Ack) => void };
  return { args, ack: undefined };
}

/**
 * The federation coordinator: a socket.io server that runs training rounds, aggregates
 * client updates with a Strategy, commits model versions and serves them over HTTP.
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
  readonly audit: AuditLog;
  private readonly tls: boolean;
  private roundsPaused = false;
  private loopDone = false;
  private readonly logger: Logger;
  private readonly authenticate: CoordinatorOptions['authenticate'];
  private readonly clients = new Map<string, Socket>();
  /** Anonymous (--open) clients' SecAgg identity keys, pinned on first use (see trustSecAggIdentity). */
  private readonly secAggPins = new Map<string, string>();
  private readonly history: RoundSummary[] = [];
  private active: ActiveRound | undefined;
  private readonly endedRoundIds = new Set<string>();
  private roundCounter = 0;
  /** Durable state, when the `database` option is given. */
  readonly database: FederationDatabase | undefined;
  private readonly ownsDatabase: boolean;
  private trainRoundsCommitted = 0;
  private running = false;
  private closed = false;
  private loopPromise: Promise<void> | undefined;
  private clientWaiters: Array<() => void> = [];
  /** Bound into every secure-aggregation message: a new value per coordinator run. */
  private readonly session: string;
  /** Signs privacy receipts; its public half goes to clients in the welcome. */
  private readonly signingKey: IdentityKeyPair;
  /** Bytes of update payloads received and model weights served, since start. */
  readonly traffic = { up: 0, down: 0 };
  /** Chunked, sealed training uploads (uploads/receiver.ts). */
  private readonly uploads: UploadReceiver;
  /** The welcome's signed announcement of the X25519 key updates are sealed to. */
  private readonly sealAnnouncement: { publicKey: string; signature: string };
  /** Per-client and per-IP token buckets (rate-limit.ts). */
  private readonly limiter: RateLimiter;
  /** Deterministic aggregation order, for reproducible simulations (holds updates until the round ends). */
  deterministicOrder = false;

  constructor(options: CoordinatorOptions) {
    super();
    const parsed = coordinatorSettingsSchema.safeParse(options.settings ?? {});
    if (!parsed.success) throw badMessage('coordinator settings', parsed.error);
    this.settings = parsed.data;
    this.logger = options.logger ?? silentLogger;
    this.authenticate = options.authenticate;
    this.strategy = options.strategy ?? new FedAvg();
    this.ownsDatabase = typeof options.database === 'string';
    this.database = typeof options.database === 'string' ? openFederationDatabase(options.database) : options.database;
    if (this.database) {
      const resumed = resumeFromDatabase(this.database, options.model, this.settings, this.strategy, this.logger);
      this.store = resumed.store;
      this.roundCounter = resumed.roundCounter;
      this.trainRoundsCommitted = resumed.trainRoundsCommitted;
      this.history.push(...resumed.history);
    } else {
      this.store = new MemoryModelStore(options.model.topology, options.model.spec, options.model.weights, this.settings.keepVersions);
    }
    this.numParams = specSize(this.store.spec);
    if (this.settings.secureAggregation.enabled) {
      try {
        assertSecAggCompatible(this.strategy);
      } catch (err) {
        throw new FlockError('SECAGG_UNAVAILABLE', (err as Error).message, { strategy: this.strategy.name });
      }
    }
    if ((this.strategy as { requiresSecureAggregation?: boolean }).requiresSecureAggregation && !this.settings.secureAggregation.enabled) {
      throw new FlockError('SECAGG_UNAVAILABLE', `strategy ${this.strategy.name} adds its noise inside secure aggregation: enable secureAggregation`);
    }
    this.session = `${this.settings.federationId}:${randomBytes(8).toString('hex')}`;
    this.signingKey = options.signingKey ?? generateIdentityKeyPair(nodePlatform);
    const sealKey = deriveCoordinatorSealKey(this.signingKey);
    this.sealAnnouncement = announceCoordinatorSealKey(this.signingKey, sealKey, this.settings.federationId);
    this.uploads = new UploadReceiver({
      federationId: this.settings.federationId,
      numParams: this.numParams,
      chunkBytes: this.settings.uploads.chunkBytes,
      sealRequired: this.settings.uploads.sealRequired,
      sealKey,
      platform: nodePlatform,
      host: {
        admit: (clientId, meta) => void this.admitUpload(clientId, meta),
        sessionIdentity: (clientId, socketId) => this.sessionIdentity(clientId, socketId),
        accept: (clientId, meta, delta) => this.acceptUpload(clientId, meta, delta),
        reject: (clientId, err) => {
          const r = this.active;
          if (r && r.cohort.has(clientId) && !r.settled.has(clientId)) this.settleRejected(r, clientId, err);
          throw err;
        },
        countBytes: (n) => (this.traffic.up += n),
      },
    });
    this.limiter = new RateLimiter(this.settings.rateLimits);
    this.audit = options.audit ?? nullAuditLog;
    this.auth = new ClientAuthenticator({ mode: this.settings.auth, federationId: this.settings.federationId, registry: options.registry ?? this.database?.registry ?? new MemoryClientRegistry(), platform: nodePlatform, audit: this.audit });
    const security = {
      auth: this.auth,
      operatorToken: options.operatorToken,
      privateModels: options.privateModels === true,
      audit: this.audit,
      status: () => this.status(),
      onlineClients: () => this.connectedClients,
      disconnect: (clientId: string, error: FlockError) => this.disconnectClient(clientId, error),
      pauseRounds: () => this.pauseRounds(),
      resumeRounds: () => this.resumeRounds(),
      roundsPaused: () => this.roundsPaused,
      settings: this.settings,
      limitRequest: (ip: string) => this.limiter.checkConnectionAddress(ip),
      // The privacy accountant fixed its sampling rate at start-up: another fraction would
      // make every reported epsilon wrong.
      ...(this.strategy.receiptFields ? { lockedSettings: { fraction: 'the differential-privacy accountant assumes the sampling rate it was started with; restart the coordinator to change it' } } : {}),
    };
    this.on('round', (s: RoundSummary) => {
      if (s.status === 'committed') this.audit.record({ action: 'round.commit', actor: 'coordinator', requestId: s.roundId, outcome: 'ok', round: s.round, modelVersion: s.modelVersion, modelHash: s.modelHash, reporters: s.reporters.length });
    });
    this.tls = options.tls !== undefined;
    this.http = createHttpServer({
      security,
      api: { store: this.store, status: () => this.status(), rounds: () => this.history.slice(-100), onWeightsServed: (n: number) => (this.traffic.down += n) },
      logger: this.logger,
      tls: options.tls,
    });
    this.io = new IoServer(this.http, {
      // An update is one float32 per parameter plus a small envelope; anything larger
      // closes only the offending connection (engine.io enforces this per message).
      // Updates arrive in chunks (protocol/v1.md 5.4a), so no frame needs to be larger than one
      // sealed chunk plus its envelope; SecAgg masked inputs are still one frame of the model size.
      maxHttpBufferSize: this.settings.maxHttpBufferSize ?? frameBound(this.settings, this.numParams),
      serveClient: false,
      cors: { origin: '*' },
    });
    this.io.use((socket, next) => {
      // Per address before authentication; per client id only after it (admit below), so a
      // stranger naming a client's id cannot use up that client's reconnection budget.
      const limited = this.limiter.checkConnectionAddress(socket.handshake.address);
      if (!limited) return next();
      const e = new Error(limited.message) as Error & { data?: ErrorEnvelope };
      e.data = limited.toEnvelope();
      next(e);
    });
    this.io.use((socket, next) => {
      this.admit(socket)
        .then(() => {
          const limited = this.limiter.checkClientConnection(socket.data.clientId as string);
          if (limited) throw limited;
          next();
        })
        .catch((err: unknown) => {
          const fe = err instanceof FlockError ? err : new FlockError('INTERNAL', 'handshake failed');
          const e = new Error(fe.message) as Error & { data?: ErrorEnvelope };
          e.data = fe.toEnvelope();
          next(e);
        });
    });
    this.io.on('connection', (socket) => this.onConnection(socket));
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
    if (this.running || this.closed) return;
    this.running = true;
    this.loopPromise = this.loop().catch((err: unknown) => {
      this.logger.error({ err }, 'round loop failed');
      this.emit('error', err);
    });
  }

  /** Resolves when the configured number of training rounds has committed. */
  async whenDone(): Promise<void> {
    if (this.trainRoundsCommitted >= this.settings.rounds) return;
    await new Promise<void>((resolve) => this.once('done', resolve));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.running = false;
    this.active?.finish();
    this.active?.secure?.cancel();
    for (const w of this.clientWaiters) w();
    this.clientWaiters = [];
    await this.loopPromise;
    await new Promise<void>((resolve) => this.io.close(() => resolve()));
    if (this.http.listening) await new Promise<void>((resolve) => this.http.close(() => resolve()));
    if (this.ownsDatabase) this.database?.close();
  }

  status(): Record<string, unknown> {
    const latest = this.store.latest();
    return {
      ok: true,
      federationId: this.settings.federationId,
      protocolVersion: PROTOCOL_VERSION,
      clients: this.clients.size,
      round: this.roundCounter,
      activeRound: this.active ? { round: this.active.round, kind: this.active.kind, selected: this.active.cohort.size, reported: this.active.reporters.length } : null,
      modelVersion: latest.version,
      modelHash: latest.hash,
      trainRoundsCommitted: this.trainRoundsCommitted,
    };
  }

  get connectedClients(): string[] {
    return [...this.clients.keys()].sort();
  }

  get rounds(): readonly RoundSummary[] {
    return this.history;
  }

  /** settings.debugPhaseDelayMs at a round phase boundary (crash testing); close() cuts it short. */
  private async debugPause(): Promise<void> {
    const until = Date.now() + this.settings.debugPhaseDelayMs;
    while (!this.closed && Date.now() < until) await this.sleep(until - Date.now());
  }

  // ---- connections ----

  private async admit(socket: Socket): Promise<void> {
    // The version is checked first, so a future client with another auth shape still learns why.
    const version = (socket.handshake.auth as { protocolVersion?: unknown } | undefined)?.protocolVersion;
    if (typeof version === 'number' && version !== PROTOCOL_VERSION) {
      throw new FlockError('PROTOCOL_VERSION_UNSUPPORTED', `client speaks protocol ${version}; this coordinator speaks ${PROTOCOL_VERSION}`);
    }
    const parsed = handshakeAuthSchema.safeParse(socket.handshake.auth);
    if (!parsed.success) throw badMessage('handshake auth', parsed.error);
    const auth = parsed.data;
    // Authenticate before revealing whether an id is online (auth/authenticator.ts).
    const admission = await this.auth.admit(auth, socket.id, socket.handshake.address);
    if (this.authenticate) await this.authenticate(auth);
    // An authenticated identity takes over its older session (onConnection); an anonymous
    // id (open mode) proves nothing, so it cannot push a live session out.
    socket.data.authenticated = admission.authenticated;
    // The Ed25519 key this connection proved (token mode): sealed uploads must carry it (sessionIdentity).
    if (admission.authenticated) socket.data.identityKey = auth.publicKey;
    if (this.clients.has(auth.clientId) && !admission.authenticated) {
      throw new FlockError('CLIENT_ID_IN_USE', `client id '${auth.clientId}' already has a live session; close it first`);
    }
    socket.data.clientId = auth.clientId;
  }

  private onConnection(socket: Socket): void {
    const clientId = socket.data.clientId as string;
    const previous = this.clients.get(clientId);
    if (previous && socket.data.authenticated === true) {
      // One live session per identity: the newer, authenticated one replaces the old.
      this.audit.record({ action: 'session.replaced', actor: `client:${clientId}`, requestId: socket.id, outcome: 'ok', previous: previous.id });
      this.disconnectClient(clientId, new FlockError('SESSION_REPLACED', 'a newer session of this client identity connected'));
    }
    if (this.clients.has(clientId)) {
      // Two handshakes raced through admit(); keep the first.
      socket.emit(EVENTS.error, new FlockError('CLIENT_ID_IN_USE').toEnvelope());
      socket.disconnect(true);
      return;
    }
    if (socket.data.authenticated === true && this.auth.registry.getIdentity(clientId)?.revokedAt) {
      // Revoked while its handshake was in flight.
      socket.emit(EVENTS.error, new FlockError('CREDENTIAL_REVOKED', 'the operator revoked this client').toEnvelope());
      socket.disconnect(true);
      return;
    }
    this.clients.set(clientId, socket);
    const accessToken = this.auth.openSession(clientId);
    socket.once('disconnect', () => this.auth.closeSession(accessToken));
    this.logger.info({ clientId }, 'client connected');
    this.emit('client:connect', clientId);
    socket.on('disconnect', (reason) => {
      this.uploads.drop(clientId, socket.id);
      if (this.clients.get(clientId) === socket) this.clients.delete(clientId);
      this.logger.info({ clientId, reason }, 'client disconnected');
      this.emit('client:disconnect', clientId);
    });
    socket.onAny((event: string, ...raw: unknown[]) => {
      const { args, ack } = splitAck(raw);
      const reply = (a: Ack): void => {
        if (ack) ack(a);
        else if (!a.ok) socket.emit(EVENTS.error, a.error);
      };
      const fail = (err: unknown): void => {
        const fe = err instanceof FlockError ? err : new FlockError('INTERNAL');
        if (!(err instanceof FlockError)) this.logger.error({ err, clientId, event }, 'handler failed');
        this.emit('rejected', { clientId, code: fe.code, event });
        reply({ ok: false, error: fe.toEnvelope() });
      };
      const limited = this.limiter.checkEvent(clientId, socket.handshake.address);
      if (limited) {
        this.emit('rejected', { clientId, code: limited.code, event });
        reply({ ok: false, error: limited.toEnvelope() });
        return;
      }
      try {
        const result = this.dispatch(clientId, event, args, socket.id);
        if (result instanceof Promise) result.then(reply, fail);
        else reply(result);
      } catch (err) {
        fail(err);
      }
    });
    const latest = this.store.latest();
    const welcome: Welcome = {
      federationId: this.settings.federationId,
      protocolVersion: PROTOCOL_VERSION,
      clientId,
      modelVersion: latest.version,
      modelHash: latest.hash,
      modelPath: `/v1/models/${latest.version}`,
      spec: this.store.spec,
      coordinatorKey: toHex(this.signingKey.publicKey),
      accessToken,
      sealKey: this.sealAnnouncement,
      uploads: { chunkBytes: this.settings.uploads.chunkBytes, sealRequired: this.settings.uploads.sealRequired },
    };
    socket.emit(EVENTS.welcome, welcome);
    // A selected client that lost its connection mid-round gets the round again; its
    // report still counts once (settled clients are not re-sent anything).
    const r = this.active;
    if (r?.start && r.collecting && r.cohort.has(clientId) && !r.settled.has(clientId)) {
      socket.emit(EVENTS.roundStart, { ...r.start, timeoutMs: Math.max(1, r.deadline - Date.now()) });
    }
    const waiters = this.clientWaiters;
    this.clientWaiters = [];
    for (const w of waiters) w();
  }

  /** Closes a client's live session with a typed error (revocation, replacement); false if offline. */
  disconnectClient(clientId: string, error: FlockError): boolean {
    const socket = this.clients.get(clientId);
    if (!socket) return false;
    this.clients.delete(clientId);
    socket.emit(EVENTS.error, error.toEnvelope());
    socket.disconnect(true);
    return true;
  }

  /** Stops starting new rounds (the active one finishes); resumeRounds() continues. */
  pauseRounds(): void {
    this.roundsPaused = true;
  }

  resumeRounds(): void {
    this.roundsPaused = false;
    const waiters = this.clientWaiters;
    this.clientWaiters = [];
    for (const w of waiters) w();
    // The loop ended (all rounds ran) but more were asked for: run it again.
    if (this.loopDone && this.running && !this.closed && this.trainRoundsCommitted < this.settings.rounds) {
      this.loopDone = false;
      this.running = false;
      this.start();
    }
  }

  get paused(): boolean {
    return this.roundsPaused;
  }

  private dispatch(clientId: string, event: string, args: unknown[], socketId = ''): Ack | Promise<Ack> {
    if (event.startsWith('secagg:')) {
      const r = this.active;
      if (!r?.secure || !r.cohort.has(clientId)) {
        throw new FlockError('ROUND_NOT_ACTIVE', 'no secure-aggregation round is active for this client');
      }
      return r.secure.handle(clientId, event, args);
    }
    switch (event) {
      case EVENTS.roundUpdate:
        return this.onUpdate(clientId, args);
      case UPLOAD_EVENTS.begin:
        return this.uploads.begin(clientId, socketId, args);
      case UPLOAD_EVENTS.chunk:
        return this.uploads.chunk(clientId, args);
      case EVENTS.roundEvaluate:
        return this.onEvaluate(clientId, args);
      case EVENTS.roundDecline:
        return this.onDecline(clientId, args);
      default:
        throw new FlockError('UNKNOWN_EVENT', `unknown event '${String(event).slice(0, 64)}'; see protocol/v1.md`);
    }
  }

  /** Common checks of a report against the active round; returns the round. */
  private checkRound(clientId: string, roundId: string, kind: 'train' | 'evaluate'): ActiveRound {
    const r = this.active;
    if (!r || r.roundId !== roundId) {
      const durable = this.database?.rounds.byId(roundId);
      if (this.endedRoundIds.has(roundId) || (durable && durable.status !== 'running')) throw new FlockError('LATE_UPDATE', `round ${roundId} has already ended`);
      throw new FlockError('ROUND_NOT_ACTIVE', `round ${roundId} is not the active round${r ? ` (${r.roundId})` : ''}`);
    }
    if (!r.cohort.has(clientId)) throw new FlockError('NOT_SELECTED', `client ${clientId} is not in the cohort of round ${r.round}`);
    if (r.settled.has(clientId)) throw new FlockError('DUPLICATE_UPDATE', `client ${clientId} already reported for round ${r.round}`);
    if (!r.collecting || Date.now() > r.deadline) throw new FlockError('LATE_UPDATE', `round ${r.round} stopped collecting at its deadline`);
    if (r.kind !== kind) throw new FlockError('BAD_MESSAGE', `round ${r.round} is a ${r.kind} round; send ${r.kind === 'train' ? EVENTS.roundUpdate : EVENTS.roundEvaluate}`);
    return r;
  }

  /** Marks a client as settled with a rejection (its report will not count) and rethrows. */
  private settleRejected(r: ActiveRound, clientId: string, err: FlockError): never {
    r.settled.add(clientId);
    r.rejected.push({ clientId, code: err.code });
    this.maybeFinish(r);
    throw err;
  }

  private onUpdate(clientId: string, args: unknown[]): Ack {
    const meta = updateMetaSchema.safeParse(args[0]);
    if (!meta.success) throw badMessage(EVENTS.roundUpdate, meta.error);
    const payload = binarySchema.safeParse(args[1]);
    if (!payload.success || args.length !== 2) {
      throw new FlockError('BAD_MESSAGE', `${EVENTS.roundUpdate} takes (meta, binary delta) and an ack; got ${args.length} arguments`);
    }
    this.traffic.up += asBytes(payload.data).byteLength;
    const r = this.checkRound(clientId, meta.data.roundId, 'train');
    if (!r.secure && this.settings.uploads.sealRequired) {
      throw new FlockError('UPLOAD_REJECTED', `this coordinator only accepts sealed, chunked updates (${UPLOAD_EVENTS.begin}); see welcome.sealKey`, { reason: 'unsealed' });
    }
    if (r.secure) throw new FlockError('BAD_MESSAGE', `round ${r.round} aggregates securely: send the secagg stage messages, not ${EVENTS.roundUpdate}`);
    if (meta.data.modelVersion !== r.modelVersion) {
      this.settleRejected(r, clientId, new FlockError('MODEL_VERSION_MISMATCH', `update is for model version ${meta.data.modelVersion}; round ${r.round} trains version ${r.modelVersion}`));
    }
    let delta: Float32Array;
    try {
      delta = decodeFloat32(asBytes(payload.data), this.numParams);
    } catch (err) {
      this.settleRejected(r, clientId, err instanceof FlockError ? err : new FlockError('WRONG_SHAPE'));
    }
    this.acceptDelta(r, clientId, meta.data.numExamples, meta.data.metrics ?? {}, delta);
    return { ok: true };
  }

  /** Non-finite check, weighting and aggregation of a decoded update; the aggregator copies what it keeps. */
  private acceptDelta(r: ActiveRound, clientId: string, numExamples: number, metrics: Record<string, number>, delta: Float32Array): void {
    const bad = firstNonFinite(delta);
    if (bad >= 0) this.settleRejected(r, clientId, new FlockError('NON_FINITE', `update value ${bad} is ${delta[bad]}; NaN and Infinity are never aggregated`, { index: bad }));
    // Durable idempotency key (round id, client id), claimed where an update is counted: a
    // re-sent upload is recognised and counted once (store/uploads.ts).
    if (this.database && !this.database.uploads.claim(r.roundId, clientId)) {
      throw new FlockError('DUPLICATE_UPDATE', `client ${clientId} already reported for round ${r.round}`);
    }
    const weight = Math.min(numExamples, this.settings.maxExampleWeight);
    if (this.deterministicOrder) r.held.set(clientId, { delta: Float32Array.from(delta), weight });
    else r.aggregator!.add(clientId, delta, weight);
    this.recordReport(r, clientId, numExamples, metrics);
  }

  /**
   * The identity registry for secure aggregation: a client's round keys must be signed by the
   * identity its session authenticated with (token mode: the key bound to its enrollment token,
   * so the operator's tokens are the allow-list). An anonymous session (--open) has none: the first
   * identity key seen for a client id is pinned for the coordinator's lifetime (trust on first
   * use), and a later round signed by another key is refused.
   */
  private trustSecAggIdentity(clientId: string, identityKey: Uint8Array): boolean {
    const hex = toHex(identityKey);
    const socket = this.clients.get(clientId);
    const authenticated: unknown = socket?.data.authenticated === true ? socket.data.identityKey : undefined;
    if (typeof authenticated === 'string') return authenticated === hex;
    if (this.auth.mode !== 'open') return false; // fail closed: token mode without an identity
    const pinned = this.secAggPins.get(clientId);
    if (pinned !== undefined) return pinned === hex;
    if (this.secAggPins.size >= MAX_SECAGG_PINS) this.secAggPins.delete(this.secAggPins.keys().next().value!);
    this.secAggPins.set(clientId, hex);
    return true;
  }

  /**
   * The identity a session authenticated with, which its sealed uploads' key records must
   * carry (uploads/receiver.ts): the handshake's verified Ed25519 key in token mode, null for
   * an anonymous (open mode) session. Fails closed: in token mode a session without one is refused.
   */
  private sessionIdentity(clientId: string, socketId: string): Uint8Array | null {
    const socket = this.io.sockets.sockets.get(socketId);
    const key: unknown = socket?.data.identityKey;
    if (socket?.data.clientId === clientId && socket.data.authenticated === true && typeof key === 'string' && /^[0-9a-f]{64}$/.test(key)) return fromHex(key);
    if (this.auth.mode === 'open' && socket?.data.authenticated !== true) return null;
    throw new FlockError('UNAUTHORIZED', 'this session has no authenticated identity to bind a sealed upload to');
  }

  /** `round:upload`: the round checks of `round:update`, before the coordinator allocates anything. */
  private admitUpload(clientId: string, meta: UploadBegin): ActiveRound {
    const r = this.checkRound(clientId, meta.roundId, 'train');
    if (r.secure) throw new FlockError('BAD_MESSAGE', `round ${r.round} aggregates securely: send the secagg stage messages, not ${UPLOAD_EVENTS.begin}`);
    if (meta.modelVersion !== r.modelVersion) {
      this.settleRejected(r, clientId, new FlockError('MODEL_VERSION_MISMATCH', `update is for model version ${meta.modelVersion}; round ${r.round} trains version ${r.modelVersion}`));
    }
    return r;
  }

  /** The last chunk of an upload arrived: the round is checked again (the deadline may have passed). */
  private acceptUpload(clientId: string, meta: UploadBegin, delta: Float32Array): void {
    const r = this.admitUpload(clientId, meta);
    this.acceptDelta(r, clientId, meta.numExamples, meta.metrics ?? {}, delta);
  }

  private onEvaluate(clientId: string, args: unknown[]): Ack {
    const report = evaluateReportSchema.safeParse(args[0]);
    if (!report.success || args.length !== 1) {
      throw report.success ? new FlockError('BAD_MESSAGE', `${EVENTS.roundEvaluate} takes one object and an ack`) : badMessage(EVENTS.roundEvaluate, report.error);
    }
    const r = this.checkRound(clientId, report.data.roundId, 'evaluate');
    if (report.data.modelVersion !== r.modelVersion) {
      this.settleRejected(r, clientId, new FlockError('MODEL_VERSION_MISMATCH', `evaluation is of model version ${report.data.modelVersion}; round ${r.round} evaluates ${r.modelVersion}`));
    }
    this.recordReport(r, clientId, report.data.numExamples, { loss: report.data.loss, accuracy: report.data.accuracy });
    return { ok: true };
  }

  private onDecline(clientId: string, args: unknown[]): Ack {
    const d = declineSchema.safeParse(args[0]);
    if (!d.success) throw badMessage(EVENTS.roundDecline, d.error);
    const r = this.active;
    if (r && r.roundId === d.data.roundId && r.cohort.has(clientId) && !r.settled.has(clientId)) {
      r.settled.add(clientId);
      r.rejected.push({ clientId, code: 'DECLINED' });
      this.logger.info({ clientId, round: r.round, reason: d.data.reason }, 'client declined');
      this.maybeFinish(r);
    }
    return { ok: true };
  }

  private recordReport(r: ActiveRound, clientId: string, numExamples: number, metrics: Record<string, number>): void {
    r.settled.add(clientId);
    r.reporters.push(clientId);
    r.numExamples += numExamples;
    const w = Math.min(numExamples, this.settings.maxExampleWeight);
    for (const [k, v] of Object.entries(metrics)) {
      r.metricSums.set(k, (r.metricSums.get(k) ?? 0) + v * w);
      r.metricWeights.set(k, (r.metricWeights.get(k) ?? 0) + w);
    }
    this.maybeFinish(r);
  }

  private maybeFinish(r: ActiveRound): void {
    // On the next turn of the event loop: the round's aggregation and commit would otherwise run
    // as a microtask before the last client's ack is written, and that client would wait for them.
    if (r.settled.size >= r.cohort.size) setImmediate(r.finish);
  }

  // ---- rounds ----

  private async waitForClients(n: number): Promise<void> {
    const eligible = (): number => [...this.clients.keys()].filter((id) => this.strategy.eligible?.(id) ?? true).length;
    while (!this.closed && eligible() < n) {
      await new Promise<void>((resolve) => this.clientWaiters.push(resolve));
    }
  }

  /** A pause that close() cuts short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.clientWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async loop(): Promise<void> {
    let abandonedInARow = 0;
    while (!this.closed && this.trainRoundsCommitted < this.settings.rounds) {
      while (this.roundsPaused && !this.closed) await new Promise<void>((resolve) => this.clientWaiters.push(resolve));
      await this.waitForClients(this.settings.minClients);
      if (this.closed) break;
      const summary = await this.runRound('train');
      if (this.closed) break;
      if (this.settings.roundIntervalMs > 0) await this.sleep(this.settings.roundIntervalMs);
      if (summary.status === 'committed') {
        this.trainRoundsCommitted++;
        const every = this.settings.evaluateEvery;
        if (every > 0 && this.trainRoundsCommitted % every === 0) {
          await this.waitForClients(this.settings.minClients);
          if (!this.closed) await this.runRound('evaluate');
        }
        abandonedInARow = 0;
      } else {
        // Back off before retrying an abandoned round: 0.2 s, doubling, at most 30 s.
        abandonedInARow++;
        await new Promise((res) => setTimeout(res, Math.min(30_000, 200 * 2 ** Math.min(abandonedInARow - 1, 8))));
      }
    }
    this.loopDone = true;
    if (!this.closed) this.emit('done');
  }

  private async runRound(kind: 'train' | 'evaluate'): Promise<RoundSummary> {
    const round = ++this.roundCounter;
    const roundId = `${round}-${randomBytes(6).toString('hex')}`;
    const startedAt = new Date();
    const traffic0 = { ...this.traffic };
    const model = this.store.latest();
    const available = this.connectedClients.filter((id) => this.strategy.eligible?.(id) ?? true);
    this.logger.info({ round, kind, phase: 'selection' }, 'round phase');
    if (this.settings.debugPhaseDelayMs > 0) await this.debugPause();
    // Training cohorts are keyed on the train round index (the version this round would
    // commit), not on the round counter: a round abandoned by a crash (or a timeout) then does
    // not shift the seeded selection of every later round, so a seeded run ends with the same
    // model however often the coordinator restarted (docs/explanation/durability.md).
    const key = selectionKey(kind === 'train' ? model.version + 1 : round, this.settings.selectionSeed);
    const cohort =
      this.settings.sampling === 'poisson'
        ? selectPoisson(available, this.settings.fraction, key)
        : selectCohort(available, cohortSize(available.length, { fraction: this.settings.fraction, min: this.settings.minClients, max: this.settings.maxClients }), key);
    const ctx: FitContext = { round, modelVersion: model.version, config: this.settings.train };
    const config: TrainConfig = kind === 'train' ? this.strategy.configureFit(ctx) : this.settings.train;
    const deadline = Date.now() + this.settings.roundTimeoutMs;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const r: ActiveRound = {
      roundId,
      round,
      kind,
      modelVersion: model.version,
      cohort: new Set(cohort),
      settled: new Set(),
      reporters: [],
      rejected: [],
      deadline,
      collecting: true,
      aggregator: kind === 'train' ? this.strategy.createAggregator(this.numParams) : undefined,
      held: new Map(),
      metricSums: new Map(),
      metricWeights: new Map(),
      numExamples: 0,
      secure: undefined,
      start: undefined,
      finish,
    };
    let secureError: FlockError | undefined;
    if (kind === 'train' && this.settings.secureAggregation.enabled) {
      try {
        r.secure = new SecureCollector({
          session: this.session,
          round,
          cohort,
          numParams: this.numParams,
          settings: this.settings.secureAggregation,
          platform: nodePlatform,
          send: (id, event, payload) => this.clients.get(id)?.emit(event, payload),
          trustIdentity: (id, key) => this.trustSecAggIdentity(id, key),
        });
      } catch (err) {
        secureError = err instanceof FlockError ? err : new FlockError('SECAGG_UNAVAILABLE', (err as Error).message);
      }
    }
    this.active = r;
    const start: RoundStart = {
      roundId,
      round,
      kind,
      modelVersion: model.version,
      modelHash: model.hash,
      modelPath: `/v1/models/${model.version}`,
      deadline,
      timeoutMs: this.settings.roundTimeoutMs,
      config,
      ...(r.secure ? { secagg: r.secure.config } : {}),
    };
    r.start = start;
    // Durable before any client hears of the round: a crash from here on leaves it 'running',
    // and the next start-up marks it abandoned.
    this.database?.rounds.start({ round, roundId, kind, modelVersion: model.version, cohort, startedAt: startedAt.toISOString() });
    this.logger.info({ round, kind, cohort: cohort.length, modelVersion: model.version }, 'round started');
    let secureResult: (AggregateResult & { survivors: string[] }) | undefined;
    if (!secureError) for (const id of cohort) this.clients.get(id)?.emit(EVENTS.roundStart, start);
    if (secureError) {
      // Nothing to collect: the round cannot run securely.
    } else if (r.secure) {
      try {
        secureResult = await r.secure.run(deadline);
        for (const id of secureResult.survivors) {
          r.reporters.push(id);
          r.settled.add(id);
        }
        r.numExamples = secureResult.totalWeight;
      } catch (err) {
        secureError = err instanceof FlockError ? err : new FlockError('INTERNAL', (err as Error).message);
      }
    } else {
      const timer = setTimeout(finish, this.settings.roundTimeoutMs);
      await finished;
      clearTimeout(timer);
    }
    r.collecting = false;
    this.uploads.dropRound(roundId);
    this.logger.info({ round, kind, phase: 'aggregation', reporters: r.reporters.length }, 'round phase');
    if (this.settings.debugPhaseDelayMs > 0) await this.debugPause();
    if (r.secure) this.traffic.up += r.secure.bytesUp;

    const metrics: Record<string, number> = {};
    for (const [k, v] of r.metricSums) metrics[kind === 'train' ? `train_${k}` : `eval_${k}`] = v / r.metricWeights.get(k)!;
    let status: RoundSummary['status'];
    let reason: ErrorEnvelope | undefined;
    let version = model;
    if (this.closed) {
      status = 'abandoned';
      reason = new FlockError('ROUND_ABANDONED', 'the coordinator is shutting down', { reason: 'shutdown' }).toEnvelope();
    } else if (secureError) {
      status = 'abandoned';
      reason = secureError.toEnvelope();
    } else if (r.reporters.length < this.settings.minClients) {
      status = 'abandoned';
      reason = new FlockError('TOO_FEW_REPORTS', `${r.reporters.length} of ${cohort.length} selected clients reported; the round needs ${this.settings.minClients}`, {
        reported: r.reporters.length,
        selected: cohort.length,
        required: this.settings.minClients,
      }).toEnvelope();
    } else if (kind === 'train') {
      if (this.deterministicOrder) {
        for (const id of [...r.held.keys()].sort()) {
          const h = r.held.get(id)!;
          r.aggregator!.add(id, h.delta, h.weight);
        }
        r.held.clear();
      }
      const aggregate = secureResult ?? r.aggregator!.result();
      const next = this.strategy.aggregateFit(model.weights, aggregate, { ...ctx, reporters: [...r.reporters].sort() });
      const versionMetrics = { ...metrics, clients: r.reporters.length, examples: r.numExamples, ...this.strategy.roundMetrics?.() };
      // With a database: new model version, round row 'committed', strategy state and privacy
      // ledger in ONE transaction (a committed round is never lost nor applied twice).
      version = this.database
        ? this.database.commitRound({ round, weights: next, modelMetrics: versionMetrics, roundMetrics: metrics, reporters: [...r.reporters].sort(), strategy: this.strategy })
        : this.store.commit(next, round, versionMetrics);
      status = 'committed';
      this.emit('commit', version);
      this.logger.info({ round, kind, phase: 'committed', modelVersion: version.version, modelHash: version.hash }, 'round phase');
      if (this.settings.debugPhaseDelayMs > 0) await this.debugPause();
    } else {
      status = 'completed';
      this.store.annotate(model.version, metrics);
    }
    if (status !== 'committed') this.database?.rounds.finish(round, { status, reporters: [...r.reporters].sort(), metrics, ...(reason ? { reason } : {}) });
    r.aggregator = undefined;
    this.active = undefined;
    this.endedRoundIds.add(roundId);
    if (this.endedRoundIds.size > 64) this.endedRoundIds.delete(this.endedRoundIds.values().next().value!);

    const summary: RoundSummary = {
      round,
      roundId,
      kind,
      status,
      modelVersion: version.version,
      modelHash: version.hash,
      selected: cohort,
      reporters: [...r.reporters].sort(),
      rejected: r.rejected,
      numExamples: r.numExamples,
      metrics,
      bytesUp: this.traffic.up - traffic0.up,
      bytesDown: this.traffic.down - traffic0.down,
      ...(reason ? { reason } : {}),
      startedAt: startedAt.toISOString(),
      seconds: (Date.now() - startedAt.getTime()) / 1000,
    };
    this.history.push(summary);
    if (this.history.length > 10_000) this.history.shift();
    let receipt: SignedReceipt | undefined;
    const fields = status === 'committed' ? this.strategy.receiptFields?.() : undefined;
    if (fields) {
      receipt = signReceipt(
        { federationId: this.settings.federationId, round, cohortSize: cohort.length, survivors: r.reporters.length, ...fields, issuedAt: new Date().toISOString() },
        this.signingKey.secretKey,
      );
    }
    const end: RoundEnd = {
      roundId,
      round,
      kind,
      status,
      modelVersion: version.version,
      modelHash: version.hash,
      ...(reason ? { reason } : {}),
      metrics,
      ...(receipt ? { receipt } : {}),
    };
    for (const id of cohort) this.clients.get(id)?.emit(EVENTS.roundEnd, end);
    this.logger.info({ round, kind, status, reporters: r.reporters.length, modelVersion: version.version, reason: reason?.code }, 'round ended');
    this.emit('round', summary);
    return summary;
  }
}
