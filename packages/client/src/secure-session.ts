import {
  FlockError,
  SECAGG_EVENTS,
  ackSchema,
  packAdvertise,
  packMaskedInput,
  packShares,
  packUnmask,
  type RoundStart,
  type SecAggConfig,
  type SecAggRoster,
  type SecAggShareDelivery,
  type SecAggUnmaskRequest,
} from '@flock/protocol';
import { DpQuantizer, SecAggClient, WeightedEncoder, addLatticeNoise, distributedLocalStddev, type IdentityKeyPair, type PlatformCrypto } from '@flock/privacy';
import type { Socket } from 'socket.io-client';

/** The SecAgg+ stage a simulated client goes silent before (fault injection). */
export type DropStage = 'advertise-keys' | 'share-keys' | 'masked-input' | 'unmask';

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // a stage the client never reaches must not be an unhandled rejection
  return { promise, resolve, reject };
}

/**
 * One client's part in a secure-aggregation round over socket.io. Keys are advertised as
 * soon as the round starts, shares are exchanged while the model trains, and the masked
 * update is sent when training is done. The coordinator only ever receives masked data.
 */
export class SecureSession {
  readonly round: number;
  readonly session: string;
  private readonly engine: SecAggClient;
  private readonly encoder: WeightedEncoder;
  /** Under DP (central or distributed mode): conditional randomized rounding, no weight element. */
  private readonly dpQuantizer: DpQuantizer | undefined;
  private readonly delivery = deferred<SecAggShareDelivery>();
  private readonly finished = deferred<void>();
  private stopped = false;
  private failure: unknown;

  constructor(
    private readonly socket: Socket,
    start: RoundStart,
    private readonly cfg: SecAggConfig,
    clientId: string,
    identity: IdentityKeyPair,
    platform: PlatformCrypto,
    private readonly dropBefore: DropStage | undefined,
  ) {
    this.round = start.round;
    this.session = cfg.session;
    this.engine = new SecAggClient({ session: cfg.session, round: start.round, k: cfg.k, t: cfg.t, vectorLength: cfg.vectorLength, clientId, identity, platform });
    this.encoder = new WeightedEncoder({ clip: cfg.clip, nMax: cfg.nMax, weightCap: cfg.weightCap, platform });
    const privacy = start.kind === 'train' ? start.config.privacy : undefined;
    if (privacy && privacy.mode !== 'local') {
      // A DP round must say how to quantize; without it the old weighted encoding would let the
      // coordinator's noise calibration and this client's weight disagree (issue #12).
      if (!cfg.dp) throw new FlockError('DP_UNAVAILABLE', `a ${privacy.mode} differential-privacy round under secure aggregation must carry secagg.dp (the quantization scale and bound)`, { mode: privacy.mode });
      if (cfg.dp.clip !== privacy.clip) throw new FlockError('DP_UNAVAILABLE', `secagg.dp.clip ${cfg.dp.clip} differs from the round's privacy clip ${privacy.clip}`, { mode: privacy.mode });
      this.dpQuantizer = new DpQuantizer({ clip: cfg.dp.clip, scale: cfg.dp.scale, dimension: cfg.vectorLength, platform });
      // The bound is a function of (clip, scale, d): recomputed here, a coordinator cannot understate it.
      if (Math.abs(this.dpQuantizer.bound - cfg.dp.bound) > 1e-9 * this.dpQuantizer.bound) {
        throw new FlockError('DP_UNAVAILABLE', `secagg.dp.bound ${cfg.dp.bound} is not the rounding bound ${this.dpQuantizer.bound} of clip ${cfg.dp.clip}, scale ${cfg.dp.scale} and ${cfg.vectorLength} parameters`, { mode: privacy.mode });
      }
    }
  }

  /** Resolves when this client has done its last stage (or gave up). */
  get done(): Promise<void> {
    return this.finished.promise;
  }

  private silent(stage: DropStage): boolean {
    if (this.dropBefore === stage) {
      this.stop();
      return true;
    }
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
    this.delivery.reject(new FlockError('ROUND_ABANDONED', 'secure session stopped'));
    this.finished.resolve();
  }

  fail(err: unknown): void {
    this.failure = err;
    this.stopped = true;
    this.delivery.reject(err);
    this.finished.reject(err);
  }

  private async send(event: string, payload: unknown): Promise<void> {
    const raw: unknown = await this.socket.timeout(this.cfg.deadlinesMs.maskedInput + 60_000).emitWithAck(event, payload);
    const ack = ackSchema.safeParse(raw);
    if (!ack.success) throw new FlockError('BAD_MESSAGE', `invalid ack for ${event}`);
    if (!ack.data.ok) throw FlockError.fromEnvelope(ack.data.error);
  }

  /** Stage 1: advertise fresh round keys. */
  async begin(): Promise<void> {
    if (this.silent('advertise-keys')) return;
    await this.send(SECAGG_EVENTS.advertiseKeys, packAdvertise(await this.engine.advertiseKeys()));
  }

  /** Stage 2, on the roster: encrypted shares for every neighbour. */
  async onRoster(roster: SecAggRoster): Promise<void> {
    if (this.silent('share-keys')) return;
    await this.send(SECAGG_EVENTS.shareKeys, packShares(await this.engine.shareKeys(roster)));
  }

  onDelivery(delivery: SecAggShareDelivery): void {
    this.delivery.resolve(delivery);
  }

  /** Stage 3, after training: the weighted, clipped, quantized and masked update. */
  async submit(delta: Float32Array, numExamples: number, noise?: { noiseMultiplier: number; clip: number }): Promise<void> {
    if (this.stopped) return;
    let delivery: SecAggShareDelivery;
    try {
      delivery = await this.delivery.promise;
    } catch (err) {
      if (this.failure !== undefined) throw this.failure; // a stage failed: surface why
      if (this.stopped) return; // dropped out (fault injection) or the round ended
      throw err;
    }
    if (this.silent('masked-input')) return;
    const dpq = this.dpQuantizer;
    // Under DP the weight is not sent at all: the update counts once (conditional rounding keeps its norm <= Delta2).
    const encoded = dpq ? await dpq.encode(delta) : await this.encoder.encode(delta, numExamples);
    if (noise) {
      // Distributed DP: this client's share of the noise, so that any t survivors together add at
      // least sigma * Delta2 lattice units, Delta2 the sensitivity the rounding enforces. Grouped
      // SecAgg+ (a fleet): calibrated to dp.summands, the whole cohort's survivors, not the group's t.
      if (!dpq) throw new FlockError('DP_UNAVAILABLE', 'distributed noise needs the DP quantization of secagg.dp');
      addLatticeNoise(encoded, delta.length, distributedLocalStddev(noise.noiseMultiplier, dpq.bound, noiseSummands(this.cfg)));
    }
    const msg = await this.engine.maskedInput(delivery, encoded);
    encoded.fill(0);
    await this.send(SECAGG_EVENTS.maskedInput, packMaskedInput(msg));
  }

  /** Stage 4, on the unmask request: shares that remove the survivors' masks. */
  async onUnmaskRequest(request: SecAggUnmaskRequest): Promise<void> {
    if (this.silent('unmask')) return;
    await this.send(SECAGG_EVENTS.unmask, packUnmask(await this.engine.unmask(request)));
    this.finished.resolve();
  }
}

/**
 * How many survivors a client's distributed noise share is calibrated to (protocol/secagg.md
 * 4.5): `secagg.dp.summands` when present (grouped SecAgg+: the whole cohort), else `t`.
 */
export function noiseSummands(cfg: SecAggConfig): number {
  return cfg.dp?.summands ?? cfg.t;
}
