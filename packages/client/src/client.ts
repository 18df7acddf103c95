import * as tf from '@tensorflow/tfjs';
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import {
  EVENTS,
  FlockError,
  PROTOCOL_VERSION,
  badMessage,
  ackSchema,
  encodeFloat32,
  errorEnvelopeSchema,
  roundEndSchema,
  roundStartSchema,
  federationDoneSchema,
  welcomeSchema,
  type ModelSpec,
  type RoundStart,
  type UpdateMeta,
  type Welcome,
  SECAGG_EVENTS,
  secAggUnmaskRequestSchema,
  unpackRoster,
  unpackShares,
} from '@flock/protocol';
import { addGridGaussianNoise, clipL2, generateIdentityKeyPair, webPlatform, type IdentityKeyPair, type PlatformCrypto } from '@flock/privacy';
// SecAgg's client (secure-session.ts and the privacy engine) loads on the first secure round only.
import type { SecureSession, DropStage } from './secure-session.js';
import { ReceiptChecker } from './receipts.js';
import { notACoordinator, probeCoordinator, unreachable } from './probe.js';
import { getFlatWeights, ready, selectBackend, setFlatWeights, subtract, weightSpecOf, type BackendInfo, type BackendPreference, type WasmPaths } from '@flock/model/core';
import { TypedEmitter } from './emitter.js';
import { EVENT_NAMES, type FlockClientEvents, type RoundPhases, type RoundReport } from './events.js';
import { defaultPlatform, type ClientPlatform } from './platform.js';
import { isTensorData, type LocalData } from './data.js';
import { LocalTrainer } from './trainer.js';
import { ModelFetcher } from './model-fetch.js';
import { identityKey, type StoredIdentity } from './identity.js';
import { buildHandshakeAuth } from './auth.js';
import { UploadSealer, uploadUpdate } from './upload.js';

export interface FlockClientOptions {
  /** Coordinator base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** Stable id of this client; default: a random one. */
  clientId?: string;
  /**
   * Enrollment token from the operator (`flk_<id>.<secret>`). Sent at the first connection
   * only: it binds this client id to `identity`; later connections prove the identity key.
   */
  token?: string;
  /** @deprecated Same as `token`. */
  credential?: string;
  /**
   * PEM CA certificate(s) to trust for a self-signed https coordinator (Node). Used by
   * socket.io; model downloads go through `platform`, so in Node also pass
   * `platform: nodeClientPlatform({ ca })` from '@flock/client/node'. Browsers use the OS trust store.
   */
  ca?: string | Uint8Array | Array<string | Uint8Array>;
  /** Builds the local model; its architecture must match the federation's. Default: the coordinator's model.json. */
  model?: () => tf.LayersModel | Promise<tf.LayersModel>;
  /**
   * TensorFlow.js backend when the app has not set one (`tf.setBackend`): default `auto`, in a
   * browser webgpu -> webgl -> wasm (+ Flock's kernels) -> cpu (docs/how-to/gpu.md). The choice is
   * reported by the `backend` event and `client.backend`.
   */
  backend?: BackendPreference;
  /** Browsers: where the wasm backend's .wasm files are served (a URL prefix ending in '/', or a map per file). */
  wasmPaths?: WasmPaths;
  /** Local training data (stays on this device). */
  data: LocalData;
  /** Local held-out data for evaluation rounds; default: the training data. */
  evalData?: LocalData;
  /** Loss for local training; default 'categoricalCrossentropy' (one-hot y). */
  loss?: string;
  /**
   * Keep one local model across rounds (default true: no per-round rebuild). Simulations
   * with many virtual clients pass false so idle clients hold data, not model copies.
   */
  reuseModel?: boolean;
  /** Seeds local shuffling for reproducible simulations; default: crypto randomness. */
  seed?: number;
  platform?: ClientPlatform;
  /**
   * Long-term Ed25519 identity: authenticates every connection and signs the per-round
   * secure-aggregation keys. Persist it (with the client id) to reconnect after a restart;
   * default: a fresh one per FlockClient.
   */
  identity?: IdentityKeyPair;
  /**
   * Keep the client id, identity key and enrollment state in `platform.identityStore` (IndexedDB
   * in browsers), keyed by coordinator URL and `clientId`: a reloaded page reconnects as the same
   * client and does not need its single-use token again. Default true; ignored when `identity`
   * is given. The client id is final once start() resolved.
   */
  persistIdentity?: boolean;
  /** Crypto for secure aggregation; default WebCrypto. In Node pass nodePlatform from '@flock/privacy/node' (faster). */
  crypto?: PlatformCrypto;
  /**
   * The coordinator's Ed25519 public key (hex) to verify privacy receipts with. Pin it when you
   * can; otherwise the key from the coordinator's welcome is trusted on first use.
   */
  coordinatorKey?: string;
  /** Fault injection for simulations: the stage before which this client goes silent in a round. */
  faults?: {
    dropBefore?(round: number): DropStage | undefined;
    /** Simulated slowness (stragglers, bandwidth): awaited after local training, before the update is sent; bytesUp is the update's size. */
    delay?(info: { round: number; bytesUp: number }): void | Promise<void>;
  };
  /** Extra socket.io-client options (transports, reconnection delays, TLS `ca`...). */
  socket?: Partial<ManagerOptions & SocketOptions>;
  /** Largest upload chunk this client sends, bytes (the coordinator's bound caps it); default: the coordinator's bound. */
  uploadChunkBytes?: number;
  /**
   * start() rejects with UNREACHABLE when no coordinator answered within this many ms (default:
   * keep retrying). Whatever this is, start() rejects at once with NOT_A_COORDINATOR when some
   * other HTTP server answers at `url`.
   */
  giveUpAfterMs?: number;
}

function randomId(platform: ClientPlatform): string {
  return 'c-' + Array.from(platform.randomBytes(8), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The Flock client SDK: connects to a coordinator, takes part in the rounds it is selected
 * for (train locally, send the weight delta; or evaluate) and reports back. The app's data
 * never leaves the device; only deltas do.
 */
export class FlockClient extends TypedEmitter<FlockClientEvents> {
  private id: string;
  private readonly options: FlockClientOptions;
  private readonly platform: ClientPlatform;
  private socket: Socket | undefined;
  private welcome: Welcome | undefined;
  /** The coordinator key this client trusts: pinned (options.coordinatorKey) or the first one seen. */
  private trustedCoordinatorKey: string | undefined;
  /** Checks each privacy receipt against its round:end and the epsilon reported before. */
  private readonly receipts = new ReceiptChecker();
  /** Downloads (model-fetch.ts): the round's weights and the coordinator's model.json. */
  private readonly models: ModelFetcher;
  private kept: tf.LayersModel | undefined;
  private secure: SecureSession | undefined;
  /** start() is waiting for the tfjs backend. */
  private starting = false;
  /** Set by stop(): acks cut short by our own disconnect are not errors. */
  private stopping = false;
  private readonly seenRounds = new Set<string>();
  private readonly trainer: LocalTrainer;
  private backendInfo: BackendInfo | undefined;
  /** Where this client's identity is persisted (restoreIdentity), if it is. */
  private persisted: { save(v: StoredIdentity): Promise<void> } | undefined;
  private identity: IdentityKeyPair | undefined;
  /** Set after the first welcome: the token is bound, only the key signature is sent from then on. */
  private enrolled = false;
  private accessToken: string | undefined;
  private queue: Promise<void> = Promise.resolve();
  /** Seals training updates to the coordinator (upload.ts); one X25519 key per session. */
  private sealer: UploadSealer | undefined;
  /** The socket id the latest welcome arrived on (an upload waits for the welcome of a new connection). */
  private welcomeSocketId: string | undefined;

  constructor(options: FlockClientOptions) {
    super(new Set(Object.keys(EVENT_NAMES) as (keyof FlockClientEvents)[]));
    if (!options || typeof options !== 'object') throw new TypeError('options must be an object');
    if (typeof options.url !== 'string' || !/^https?:\/\//.test(options.url)) throw new TypeError('options.url must be an http(s) URL');
    if (!options.data) throw new TypeError('options.data is required (tensors {x, y} or a tf.data dataset)');
    this.options = options;
    this.platform = options.platform ?? defaultPlatform;
    this.id = options.clientId ?? randomId(this.platform);
    this.models = new ModelFetcher(this.platform, () => this.base(), () => this.accessToken);
    this.trainer = new LocalTrainer({ data: options.data, evalData: options.evalData, loss: options.loss, seed: options.seed, platform: this.platform });
  }

  /** This client's id: `options.clientId`, the one persisted from an earlier run (after start()), or a random one. */
  get clientId(): string {
    return this.id;
  }

  /** The TensorFlow.js backend this client trains on (after start()), with any backend that failed before it. */
  get backend(): BackendInfo | undefined {
    return this.backendInfo;
  }

  get connected(): boolean {
    return this.socket?.connected ?? false;
  }

  /**
   * Waits for TensorFlow.js to be ready (`ready()` from @flock/model: the backend the app or
   * selectBackend chose, else the fastest available), then connects. Resolves on the
   * coordinator's welcome; rejects with a FlockError if refused.
   */
  async start(): Promise<Welcome> {
    if (this.socket || this.starting) throw new Error('client already started');
    this.starting = true;
    try {
      const backendOptions = this.options.wasmPaths !== undefined ? { wasmPaths: this.options.wasmPaths } : {};
      const wanted = this.options.backend ?? 'auto';
      // An explicit backend wins even over one tfjs initialised by itself (a tensor created
      // before start()); 'auto' keeps a backend the app set.
      this.backendInfo = wanted === 'auto' ? await ready('auto', backendOptions) : await selectBackend(wanted, backendOptions);
      this.emit('backend', this.backendInfo);
      await this.restoreIdentity();
      if (this.stopping) throw new Error('client stopped before it connected');
      return await this.connect();
    } finally {
      this.starting = false;
    }
  }

  /** Loads this client's persisted id and identity (identity.ts), or persists fresh ones. */
  private async restoreIdentity(): Promise<void> {
    const store = this.platform.identityStore;
    if (!store || this.options.identity || this.options.persistIdentity === false || this.persisted) return;
    const key = identityKey(this.base(), this.options.clientId);
    const stored = await store.load(key);
    if (stored) {
      this.id = stored.clientId;
      this.identity = { publicKey: stored.publicKey, secretKey: stored.secretKey };
      this.enrolled = stored.enrolled;
    } else {
      this.identity ??= generateIdentityKeyPair(this.options.crypto ?? webPlatform);
      await store.save(key, { clientId: this.id, publicKey: this.identity.publicKey, secretKey: this.identity.secretKey, enrolled: false });
    }
    this.persisted = { save: (v) => store.save(key, v) };
  }

  private connect(): Promise<Welcome> {
    this.identity ??= this.options.identity ?? generateIdentityKeyPair(this.options.crypto ?? webPlatform);
    const identity = this.identity;
    const socket = io(this.base(), {
      // A function: every (re)connection fetches a fresh single-use challenge and signs it.
      auth: (cb: (data: object) => void) => {
        buildHandshakeAuth({ base: this.base(), clientId: this.clientId, identity, token: this.options.token ?? this.options.credential, enrolled: this.enrolled, platform: this.platform, crypto: this.options.crypto ?? webPlatform }).then(cb, () =>
          cb({ protocolVersion: PROTOCOL_VERSION, clientId: this.clientId }),
        );
      },
      ...(this.options.ca !== undefined ? { ca: this.options.ca as string } : {}),
      transports: ['websocket'],
      reconnectionDelay: 200,
      reconnectionDelayMax: 5000,
      ...this.options.socket,
    });
    this.socket = socket;
    socket.on('connect', () => this.emit('connect', undefined));
    // After a network cut the coordinator may not have noticed our old session yet and
    // refuses the new one with CLIENT_ID_IN_USE; socket.io does not retry middleware
    // refusals, so retry that one case ourselves with a growing delay.
    let retryDelay = 250;
    socket.on('connect', () => (retryDelay = 250));
    socket.on('connect_error', (err: Error & { data?: unknown }) => {
      const env = errorEnvelopeSchema.safeParse(err.data);
      // A nonce that expired between fetch and connect is retried the same way.
      if (this.welcome && env.success && (env.data.code === 'CLIENT_ID_IN_USE' || env.data.code === 'CHALLENGE_INVALID' || env.data.code === 'RATE_LIMITED') && this.socket === socket) {
        const wait = env.data.code === 'RATE_LIMITED' ? Math.max(retryDelay, Number(env.data.details?.retryAfterMs) || 0) : retryDelay;
        setTimeout(() => {
          if (this.socket === socket && !socket.connected) socket.connect();
        }, wait);
        retryDelay = Math.min(retryDelay * 2, 5000);
      }
    });
    socket.on('disconnect', (reason) => this.emit('disconnect', reason));
    socket.on(EVENTS.error, (raw: unknown) => {
      const env = errorEnvelopeSchema.safeParse(raw);
      this.emit('error', env.success ? FlockError.fromEnvelope(env.data) : new FlockError('BAD_MESSAGE', 'unparseable error event from coordinator'));
    });
    socket.on(EVENTS.roundStart, (raw: unknown) => {
      const parsed = roundStartSchema.safeParse(raw);
      if (!parsed.success) {
        this.emit('error', new FlockError('BAD_MESSAGE', `invalid ${EVENTS.roundStart} from coordinator`));
        return;
      }
      const start = parsed.data;
      // A round is acted on once, even if it is re-sent after a reconnect.
      if (this.seenRounds.has(start.roundId)) return;
      this.seenRounds.add(start.roundId);
      if (this.seenRounds.size > 64) this.seenRounds.delete(this.seenRounds.values().next().value!);
      const receivedAt = this.platform.now();
      this.emit('round:start', start);
      // Rounds are handled one at a time; a start that waited past its time is skipped.
      this.queue = this.queue.then(() => this.handleRound(start, receivedAt)).catch((err: unknown) => this.emit('error', toFlockError(err)));
    });
    // Secure-aggregation stages run alongside training, outside the round queue.
    const route = <T extends { session: string; round: number }>(parse: (raw: unknown) => T, handle: (s: SecureSession, m: T) => void | Promise<void>) => (raw: unknown) => {
      let msg: T;
      try {
        msg = parse(raw);
      } catch (err) {
        // Keep the schema's own words (which field, why): "secagg roster: keys: must be binary ...".
        this.emit('error', err instanceof FlockError ? err : new FlockError('BAD_MESSAGE', `invalid secure-aggregation message from coordinator: ${err instanceof Error ? err.message : String(err)}`));
        return;
      }
      const s = this.secure;
      if (!s || s.session !== msg.session || s.round !== msg.round) return; // stale or replayed: ignore
      Promise.resolve(handle(s, msg)).catch((err: unknown) => s.fail(err));
    };
    socket.on(SECAGG_EVENTS.roster, route(unpackRoster, (s, m) => s.onRoster(m)));
    socket.on(SECAGG_EVENTS.shareDelivery, route((raw) => unpackShares('share-delivery', raw), (s, m) => s.onDelivery(m)));
    socket.on(SECAGG_EVENTS.unmaskRequest, route((raw) => parseOrBadMessage(secAggUnmaskRequestSchema, 'secagg unmask-request', raw), (s, m) => s.onUnmaskRequest(m)));
    socket.on(EVENTS.roundEnd, (raw: unknown) => {
      const parsed = roundEndSchema.safeParse(raw);
      if (parsed.success) {
        if (this.secure && this.secure.round === parsed.data.round) this.secure.stop();
        const key = this.trustedCoordinatorKey;
        if (parsed.data.receipt) {
          try {
            if (!key || !this.welcome) throw new FlockError('RECEIPT_INVALID', 'a privacy receipt arrived but no coordinator key is known');
            // Bound to this round:end (round id, model version and hash) and never lowering the epsilon.
            const { roundId, round, modelVersion, modelHash } = parsed.data;
            const receipt = this.receipts.check(parsed.data.receipt, key, { federationId: this.welcome.federationId, roundId, round, modelVersion, modelHash });
            this.emit('receipt', { round, receipt });
          } catch (err) {
            this.emit('error', toFlockError(err));
          }
        }
        this.emit('round:end', parsed.data);
      }
    });
    socket.on(EVENTS.federationDone, (raw: unknown) => {
      const parsed = federationDoneSchema.safeParse(raw);
      if (parsed.success) this.emit('done', parsed.data);
      else this.emit('error', new FlockError('BAD_MESSAGE', `invalid ${EVENTS.federationDone} from coordinator`));
    });
    return new Promise<Welcome>((resolve, reject) => {
      const onWelcome = (raw: unknown): void => {
        const parsed = welcomeSchema.safeParse(raw);
        if (!parsed.success) {
          reject(new FlockError('BAD_MESSAGE', 'invalid welcome from coordinator'));
          return;
        }
        // Trust on first use: the key pinned in the options, else the first one seen; a
        // coordinator that later presents another key is refused (receipts and sealing keys
        // are verified against the trusted one).
        const presented = parsed.data.coordinatorKey?.toLowerCase();
        this.trustedCoordinatorKey ??= this.options.coordinatorKey?.toLowerCase() ?? presented;
        if (presented && this.trustedCoordinatorKey && presented !== this.trustedCoordinatorKey) {
          const e = new FlockError('COORDINATOR_KEY_CHANGED', `the coordinator presented key ${presented.slice(0, 16)}..., not the trusted ${this.trustedCoordinatorKey.slice(0, 16)}...; pin the new key only if the operator rotated it`);
          socket.disconnect();
          this.emit('error', e);
          reject(e);
          return;
        }
        this.welcome = parsed.data;
        this.welcomeSocketId = socket.id;
        if (!this.enrolled && this.persisted && this.identity) void this.persisted.save({ clientId: this.id, publicKey: this.identity.publicKey, secretKey: this.identity.secretKey, enrolled: true });
        this.enrolled = true;
        this.accessToken = parsed.data.accessToken;
        this.emit('welcome', parsed.data);
        resolve(parsed.data);
      };
      socket.on(EVENTS.welcome, onWelcome);
      let settled = false;
      let lastError: string | undefined;
      const fail = (e: FlockError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(giveUp);
        socket.off('connect_error', onConnectError);
        socket.disconnect();
        if (this.socket === socket) this.socket = undefined;
        reject(e);
      };
      const giveUpAfter = this.options.giveUpAfterMs;
      const giveUp = giveUpAfter !== undefined ? setTimeout(() => fail(unreachable(this.options.url, giveUpAfter, lastError)), giveUpAfter) : undefined;
      let probing = false;
      let lastProbe = -Infinity;
      const onConnectError = (err: Error & { data?: unknown }): void => {
        const env = errorEnvelopeSchema.safeParse(err.data);
        lastError = err.message;
        if (env.success) {
          // The coordinator refused us: stop retrying and report why.
          fail(FlockError.fromEnvelope(env.data));
        } else if (!socket.active) {
          fail(new FlockError('INTERNAL', `cannot connect to ${this.options.url}: ${err.message}`));
        } else if (!probing && this.platform.now() - lastProbe >= 5000) {
          // socket.io retries forever: find out (at most every 5 s) whether that can ever help.
          probing = true;
          lastProbe = this.platform.now();
          void probeCoordinator(this.base(), this.platform).then((p) => {
            probing = false;
            if (p.kind === 'not-a-coordinator') fail(notACoordinator(this.options.url, p.reason));
          });
        }
      };
      socket.on('connect_error', onConnectError);
      socket.once(EVENTS.welcome, () => {
        settled = true;
        clearTimeout(giveUp);
        socket.off('connect_error', onConnectError);
      });
    });
  }

  /** Disconnects and waits for a round in progress to finish its local work. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.secure?.stop(); // a round waiting for its secure stages ends here
    this.socket?.disconnect();
    this.socket = undefined;
    await this.queue.catch(() => undefined);
    this.kept?.dispose();
    this.kept = undefined;
  }

  /** Simulates a network cut (tests, fault injection): the socket drops and reconnects later if asked. */
  disconnectTransport(): void {
    this.socket?.io.engine?.close();
  }

  private async handleRound(start: RoundStart, receivedAt: number): Promise<void> {
    const t0 = this.platform.now();
    if (t0 - receivedAt > start.timeoutMs) return; // stale: the coordinator has moved on
    const socket = this.socket;
    if (!socket) return;
    const phases: RoundPhases = { download: 0, prepare: 0, fit: 0, delta: 0, send: 0 };
    const report: RoundReport = { round: start.round, roundId: start.roundId, kind: start.kind, modelVersion: start.modelVersion, numExamples: 0, metrics: {}, seconds: 0, phases, accepted: false };
    let mark = t0;
    const lap = (phase: keyof RoundPhases): void => {
      const now = this.platform.now();
      phases[phase] += (now - mark) / 1000;
      mark = now;
    };
    // What the round was doing when it failed, for the decline's reason.
    let doing = 'download';
    try {
      if (start.kind === 'train' && (start.config.proximalMu ?? 0) > 0 && !isTensorData(this.options.data)) {
        await socket.timeout(10_000).emitWithAck(EVENTS.roundDecline, { roundId: start.roundId, reason: 'FedProx (proximalMu > 0) needs tensor data; this client trains from a tf.data dataset' });
        return;
      }
      const dropBefore = this.options.faults?.dropBefore?.(start.round);
      let session: SecureSession | undefined;
      if (start.kind === 'train' && start.secagg) {
        this.identity ??= this.options.identity ?? generateIdentityKeyPair(this.options.crypto ?? webPlatform);
        const { SecureSession } = await import('./secure-session.js');
        session = new SecureSession(socket, start, start.secagg, this.clientId, this.identity, this.options.crypto ?? webPlatform, dropBefore);
        this.secure = session;
        session.begin().catch((err: unknown) => session!.fail(err));
      }
      const global = await this.models.weights(start, this.welcome?.spec);
      lap('download');
      const reuse = this.options.reuseModel !== false;
      const model = reuse ? (this.kept ??= await this.buildModel()) : await this.buildModel();
      doing = start.kind === 'train' ? 'training' : 'evaluation';
      try {
        setFlatWeights(model, global);
        if (start.kind === 'train') {
          const { numExamples, metrics, fitSeconds } = await this.trainRound(model, start, global);
          lap('prepare');
          phases.prepare -= fitSeconds;
          phases.fit = fitSeconds;
          const local = getFlatWeights(model);
          const delta = subtract(local, global);
          const dp = start.config.privacy;
          if (dp) {
            // Differential privacy: bound this client's influence, then (local mode) add its noise.
            clipL2(delta, dp.clip, { inPlace: true });
            // Local noise: the exact discrete Gaussian on a fine grid (privacy/dp/grid-noise.ts), not
            // floating-point Box-Muller, whose low bits can betray the value (Mironov 2012).
            if (dp.mode === 'local' && dp.noiseStddev) addGridGaussianNoise(delta, dp.clip, dp.noiseMultiplier ?? dp.noiseStddev / dp.clip);
            if (dp.mode === 'distributed' && !session) throw new FlockError('SECAGG_UNAVAILABLE', 'distributed differential privacy needs a secure-aggregation round');
          }
          // Local DP does not trust the coordinator: it gets the noised update only, weighing 1,
          // not this client's un-noised loss, accuracy or example count.
          const meta: UpdateMeta = dp?.mode === 'local' ? { roundId: start.roundId, modelVersion: start.modelVersion, numExamples: 1 } : { roundId: start.roundId, modelVersion: start.modelVersion, numExamples, metrics };
          report.numExamples = numExamples;
          report.metrics = metrics;
          // Plain uploads send little-endian float32 (secure aggregation quantizes inside its session).
          const encoded = session ? undefined : encodeFloat32(delta);
          lap('delta');
          this.emit('update', { round: start.round, delta, numExamples });
          doing = 'upload';
          await this.options.faults?.delay?.({ round: start.round, bytesUp: delta.byteLength });
          if (session) {
            // Only the masked sum reaches the coordinator; it acknowledges each stage.
            // Under differential privacy every update weighs the same (bounded sensitivity).
            await session.submit(delta, dp ? 1 : numExamples, dp?.mode === 'distributed' ? { noiseMultiplier: dp.noiseMultiplier ?? 0, clip: dp.clip } : undefined);
            // Bounded: a coordinator that vanishes mid-protocol must not hold this client forever.
            const d = start.secagg!.deadlinesMs;
            const bound = Math.max(1000, start.timeoutMs - (this.platform.now() - receivedAt)) + d.unmask + 5000;
            let timer: ReturnType<typeof setTimeout> | undefined;
            await Promise.race([session.done, new Promise<void>((resolve) => (timer = setTimeout(resolve, bound)))]);
            clearTimeout(timer);
          } else if (dropBefore === 'masked-input' || dropBefore === 'advertise-keys' || dropBefore === 'share-keys') {
            return; // simulated dropout: silent for this round
          } else {
            const remaining = Math.max(1000, start.timeoutMs - (this.platform.now() - receivedAt));
            this.identity ??= this.options.identity ?? generateIdentityKeyPair(this.options.crypto ?? webPlatform);
            this.sealer ??= new UploadSealer(this.options.crypto ?? webPlatform, () => this.identity!, this.trustedCoordinatorKey);
            await uploadUpdate({
              socket,
              welcome: () => (this.welcomeSocketId !== undefined && this.welcomeSocketId === socket.id ? this.welcome : undefined),
              sealer: this.sealer,
              crypto: this.options.crypto ?? webPlatform,
              platform: this.platform,
              meta,
              bytes: encoded!,
              ...(this.options.uploadChunkBytes ? { chunkBytes: this.options.uploadChunkBytes } : {}),
              deadline: this.platform.now() + remaining,
              aborted: () => this.stopping || this.socket !== socket,
            });
          }
          lap('send');
        } else {
          const data = this.options.evalData ?? this.options.data;
          lap('prepare');
          const { numExamples, loss, accuracy } = await this.trainer.evaluate(model, data);
          lap('fit');
          doing = 'upload';
          report.numExamples = numExamples;
          report.metrics = { loss, accuracy };
          const remaining = Math.max(1000, start.timeoutMs - (this.platform.now() - receivedAt));
          await this.send(socket, remaining, EVENTS.roundEvaluate, { roundId: start.roundId, modelVersion: start.modelVersion, numExamples, loss, accuracy });
          lap('send');
        }
        report.accepted = true;
      } finally {
        model.optimizer?.dispose();
        if (!reuse) model.dispose();
      }
    } catch (err) {
      report.error = toFlockError(err);
      if (!this.stopping) {
        this.emit('error', report.error);
        // Tell the coordinator at once that no report is coming, so it stops waiting for this
        // client (a decline after a report the coordinator refused has no effect).
        await this.decline(socket, start, `${doing} failed: ${report.error.code}: ${report.error.message}`);
      }
    } finally {
      if (this.secure?.round === start.round) this.secure = undefined;
      report.seconds = (this.platform.now() - t0) / 1000;
      // Differences of clock readings: drop the float noise below a microsecond.
      for (const k of Object.keys(phases) as (keyof RoundPhases)[]) phases[k] = Math.round(phases[k] * 1e6) / 1e6;
      this.emit('round:report', report);
    }
  }

  /** Sends round:decline (best effort, bounded: the connection may be the thing that failed). */
  private async decline(socket: Socket, start: RoundStart, reason: string): Promise<void> {
    if (!socket.connected) return;
    try {
      await socket.timeout(5000).emitWithAck(EVENTS.roundDecline, { roundId: start.roundId, reason: reason.slice(0, 512) });
    } catch {
      // the coordinator's deadline settles the round anyway
    }
  }

  private async send(socket: Socket, timeoutMs: number, event: string, ...args: unknown[]): Promise<void> {
    const raw: unknown = await socket.timeout(timeoutMs).emitWithAck(event, ...args);
    const ack = ackSchema.safeParse(raw);
    if (!ack.success) throw new FlockError('BAD_MESSAGE', `invalid ack for ${event}`);
    if (!ack.data.ok) throw FlockError.fromEnvelope(ack.data.error);
  }

  private async buildModel(): Promise<tf.LayersModel> {
    return this.options.model ? await this.options.model() : await this.models.build();
  }

  private base(): string {
    return this.options.url.replace(/\/$/, '');
  }

  private async trainRound(model: tf.LayersModel, start: RoundStart, global: Float32Array): ReturnType<LocalTrainer['train']> {
    if (this.welcome) this.checkArchitecture(model, this.welcome.spec);
    return await this.trainer.train(model, start, global);
  }

  private checkArchitecture(model: tf.LayersModel, spec: ModelSpec): void {
    const local = weightSpecOf(model);
    const same = local.weights.length === spec.weights.length && local.weights.every((w, i) => w.name === spec.weights[i]!.name && w.shape.join('x') === spec.weights[i]!.shape.join('x'));
    if (!same) throw new FlockError('MODEL_HASH_MISMATCH', 'the local model architecture differs from the federation model (weight names or shapes)');
  }
}

function parseOrBadMessage<T>(schema: { safeParse(raw: unknown): { success: true; data: T } | { success: false; error: Parameters<typeof badMessage>[1] } }, what: string, raw: unknown): T {
  const r = schema.safeParse(raw);
  if (!r.success) throw badMessage(what, r.error);
  return r.data;
}

function toFlockError(err: unknown): FlockError {
  if (err instanceof FlockError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/timed? ?out/i.test(message)) return new FlockError('LATE_UPDATE', `no acknowledgement before the round deadline: ${message}`);
  return new FlockError('INTERNAL', message);
}
