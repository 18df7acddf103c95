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
  evaluateReportSchema,
  handshakeAuthSchema,
  specSize,
  updateMetaSchema,
  type Ack,
  type ErrorEnvelope,
  type HandshakeAuth,
  type Welcome,
} from '@flock/protocol';
import type { FlatModel } from '@flock/model';
import { silentLogger, type Logger } from './logger.js';
import type { RoundSummary } from './round/commit.js';
import { resumeFromDatabase } from './store/resume.js';
import { systemClock, Wakeups } from './round/clock.js';
import { RoundRunner, type Fleet } from './round/runner.js';
import { createHttpServer, frameBound, listen, serverUrl } from './http/server.js';
import { coordinatorSettingsSchema, type CoordinatorSettings, type CoordinatorSettingsInput } from './options.js';
import { FedAvg, type Strategy } from './strategy.js';
import { MemoryModelStore, type ModelStore } from './model-store.js';
import { openFederationDatabase, type FederationDatabase } from './store/database.js';
import { UploadReceiver } from './uploads/receiver.js';
import { RateLimiter } from './rate-limit.js';
import { UPLOAD_EVENTS, type UploadBegin } from '@flock/protocol';
import { announceCoordinatorSealKey, deriveCoordinatorSealKey } from '@flock/privacy';
import { assertSecAggCompatible } from './strategies/index.js';
import { nodePlatform } from '@flock/privacy/node';
import { fromHex, generateIdentityKeyPair, toHex, type IdentityKeyPair } from '@flock/privacy';
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
  private readonly logger: Logger;
  private readonly authenticate: CoordinatorOptions['authenticate'];
  private readonly clients = new Map<string, Socket>();
  /** Anonymous (--open) clients' SecAgg identity keys, pinned on first use (see trustSecAggIdentity). */
  private readonly secAggPins = new Map<string, string>();
  /** Durable state, when the `database` option is given. */
  readonly database: FederationDatabase | undefined;
  private readonly ownsDatabase: boolean;
  /** The round loop (round/runner.ts). */
  private readonly runner: RoundRunner;
  /** Connections, resume and close wake whatever waits for the fleet. */
  private readonly wakeups = new Wakeups();
  private closed = false;
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
    const resumed = this.database
      ? resumeFromDatabase(this.database, options.model, this.settings, this.strategy, this.logger)
      : { store: new MemoryModelStore(options.model.topology, options.model.spec, options.model.weights, this.settings.keepVersions), roundCounter: 0, trainRoundsCommitted: 0, history: [] };
    this.store = resumed.store;
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
          const r = this.runner.active;
          if (r && r.awaits(clientId)) r.reject(clientId, err);
          throw err;
        },
        countBytes: (n) => (this.traffic.up += n),
      },
    });
    const fleet: Fleet = {
      eligible: () => this.connectedClients.filter((id) => this.strategy.eligible?.(id) ?? true),
      waitFor: async (n, signal) => {
        while (!signal.aborted && fleet.eligible().length < n) await this.wakeups.next();
      },
      send: (ids, event, msg) => {
        for (const id of ids) this.clients.get(id)?.emit(event, msg);
      },
    };
    this.runner = new RoundRunner({
      settings: this.settings,
      strategy: this.strategy,
      store: this.store,
      database: this.database,
      numParams: this.numParams,
      fleet,
      clock: systemClock,
      wakeups: this.wakeups,
      logger: this.logger,
      traffic: this.traffic,
      session: this.session,
      trustIdentity: (id, key) => this.trustSecAggIdentity(id, key),
      signingKey: this.signingKey,
      deterministicOrder: () => this.deterministicOrder,
      dropUploads: (roundId) => this.uploads.dropRound(roundId),
      emit: (event, payload) => this.emit(event, payload),
      resumed,
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
      roundsPaused: () => this.runner.paused,
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
      api: { store: this.store, status: () => this.status(), rounds: () => this.runner.history.slice(-100), onWeightsServed: (n: number) => (this.traffic.down += n) },
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
    if (!this.closed) this.runner.start();
  }

  /** Resolves when the configured number of training rounds has committed. */
  async whenDone(): Promise<void> {
    if (this.runner.trainRoundsCommitted >= this.settings.rounds) return;
    await new Promise<void>((resolve) => this.once('done', resolve));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.runner.close();
    await new Promise<void>((resolve) => this.io.close(() => resolve()));
    if (this.http.listening) await new Promise<void>((resolve) => this.http.close(() => resolve()));
    if (this.ownsDatabase) this.database?.close();
  }

  status(): Record<string, unknown> {
    const latest = this.store.latest();
    const r = this.runner.active;
    return {
      ok: true,
      federationId: this.settings.federationId,
      protocolVersion: PROTOCOL_VERSION,
      clients: this.clients.size,
      round: this.runner.roundCounter,
      activeRound: r ? { round: r.round, kind: r.kind, selected: r.cohort.size, reported: r.reporters.length } : null,
      modelVersion: latest.version,
      modelHash: latest.hash,
      trainRoundsCommitted: this.runner.trainRoundsCommitted,
    };
  }

  get connectedClients(): string[] {
    return [...this.clients.keys()].sort();
  }

  get rounds(): readonly RoundSummary[] {
    return this.runner.history;
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
    const again = this.runner.active?.restartFor(clientId);
    if (again) socket.emit(EVENTS.roundStart, again);
    this.wakeups.fire();
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
    this.runner.pause();
  }

  resumeRounds(): void {
    this.runner.resume();
  }

  get paused(): boolean {
    return this.runner.paused;
  }

  private dispatch(clientId: string, event: string, args: unknown[], socketId = ''): Ack | Promise<Ack> {
    if (event.startsWith('secagg:')) {
      const r = this.runner.active;
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

  private onUpdate(clientId: string, args: unknown[]): Ack {
    const meta = updateMetaSchema.safeParse(args[0]);
    if (!meta.success) throw badMessage(EVENTS.roundUpdate, meta.error);
    const payload = binarySchema.safeParse(args[1]);
    if (!payload.success || args.length !== 2) {
      throw new FlockError('BAD_MESSAGE', `${EVENTS.roundUpdate} takes (meta, binary delta) and an ack; got ${args.length} arguments`);
    }
    this.traffic.up += asBytes(payload.data).byteLength;
    const r = this.runner.check(clientId, meta.data.roundId, 'train');
    r.update(clientId, meta.data, asBytes(payload.data));
    return { ok: true };
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
  private admitUpload(clientId: string, meta: UploadBegin): void {
    this.runner.check(clientId, meta.roundId, 'train').admitUpload(clientId, meta);
  }

  /** The last chunk of an upload arrived: the round is checked again (the deadline may have passed). */
  private acceptUpload(clientId: string, meta: UploadBegin, delta: Float32Array): void {
    const r = this.runner.check(clientId, meta.roundId, 'train');
    r.admitUpload(clientId, meta);
    r.acceptUpload(clientId, meta, delta);
  }

  private onEvaluate(clientId: string, args: unknown[]): Ack {
    const report = evaluateReportSchema.safeParse(args[0]);
    if (!report.success || args.length !== 1) {
      throw report.success ? new FlockError('BAD_MESSAGE', `${EVENTS.roundEvaluate} takes one object and an ack`) : badMessage(EVENTS.roundEvaluate, report.error);
    }
    this.runner.check(clientId, report.data.roundId, 'evaluate').evaluate(clientId, report.data);
    return { ok: true };
  }

  private onDecline(clientId: string, args: unknown[]): Ack {
    const d = declineSchema.safeParse(args[0]);
    if (!d.success) throw badMessage(EVENTS.roundDecline, d.error);
    const r = this.runner.active;
    if (r && r.roundId === d.data.roundId && r.decline(clientId)) {
      this.logger.info({ clientId, round: r.round, reason: d.data.reason }, 'client declined');
    }
    return { ok: true };
  }
}
