import {
  FlockError,
  SECAGG_EVENTS,
  packRoster,
  packShares,
  unpackAdvertise,
  unpackMaskedInput,
  unpackShares,
  unpackUnmask,
  type Ack,
  type SecAggConfig,
} from '@flock/protocol';
import { DpQuantizer, SecAggServer, WeightedEncoder, isSecAggError, planDpQuantization, secAggParameters, type DpQuantizationPlan, type PlatformCrypto, type SecAggMisbehaviour } from '@flock/privacy';
import type { AggregateResult } from './aggregator.js';
import { systemClock, type Clock } from './round/clock.js';

export interface SecureAggregationSettings {
  k?: number | undefined;
  t?: number | undefined;
  /** Bounds the parameters are derived for (params.ts; defaults 0.1 and 0.05). */
  dropoutRate?: number | undefined;
  corruptionRate?: number | undefined;
  /** Per-coordinate clip of the (weighted) delta before quantization. */
  clip: number;
  /** Cap on the integer weight (examples) a client's update carries. */
  weightCap: number;
  /** Deadline of each key stage (advertise, share, unmask), ms. */
  stageTimeoutMs: number;
}

export interface SecureCollectorOptions {
  session: string;
  round: number;
  cohort: readonly string[];
  numParams: number;
  settings: SecureAggregationSettings;
  platform: PlatformCrypto;
  /** Stage deadlines and timers (default: the system clock). */
  clock?: Clock;
  /** Sends a stage message to one client (if it is still connected). */
  send(clientId: string, event: string, payload: unknown): void;
  /** Whether `identityKey` may sign `clientId`'s round keys (the coordinator's identity registry). */
  trustIdentity?: (clientId: string, identityKey: Uint8Array) => boolean;
  /**
   * Live sessions: a stage whose missing members have all disconnected ends `graceMs` later
   * (they count as dropped, as at the stage deadline) unless one reconnects in the meantime.
   */
  presence?: { connected(clientId: string): boolean; graceMs: number } | undefined;
  /**
   * Differential privacy (the strategy's round config): central or distributed mode encode the
   * update alone by conditional randomized rounding at a scale chosen from the cohort, the clip,
   * the noise and the overflow probability (privacy/secagg/dp-quantize.ts); client weights are
   * not sent at all. A configuration no scale can serve throws DP_UNAVAILABLE.
   */
  dp?: { mode: 'central' | 'distributed'; clip: number; noiseMultiplier: number; whole?: WholeCohort | undefined } | undefined;
}

/**
 * Grouped SecAgg+ (fleet/secagg-group.ts): this collector runs over one group of a larger
 * cohort, and the DP quantization and noise are planned for the whole cohort: `cohort` members
 * at most in the sum (the overflow bound), `summands` survivors guaranteed (the noise share).
 */
export interface WholeCohort {
  cohort: number;
  summands: number;
}

type Stage = 'advertise' | 'share' | 'masked' | 'unmask' | 'done';

/**
 * Runs the SecAgg+ stages of one training round over the coordinator's sockets:
 * advertise keys -> roster -> share keys -> deliveries -> masked input -> unmask request ->
 * unmask -> the sum of the survivors' encoded updates. Holds only the running masked sum.
 */
export class SecureCollector {
  readonly config: SecAggConfig;
  readonly encoder: WeightedEncoder;
  /** Under differential privacy: the quantization plan and its decoder (the encoder above is then unused). */
  readonly dpPlan: DpQuantizationPlan | undefined;
  readonly dpQuantizer: DpQuantizer | undefined;
  private readonly server: SecAggServer;
  private readonly opts: SecureCollectorOptions;
  private stage: Stage = 'advertise';
  private expected = new Set<string>();
  private received = new Set<string>();
  private wake: (() => void) | undefined;
  private cancelStall: (() => void) | undefined;
  private readonly clock: Clock;
  /** Update payload bytes received (masked vectors), for traffic figures. */
  bytesUp = 0;
  /** Each finished stage: how long it waited, how many members it expected and heard from (for /metrics). */
  readonly stages: Array<{ stage: string; seconds: number; expected: number; received: number }> = [];

  /**
   * Revealed shares that did not fit the verified secrets (Reed-Solomon decoding named them),
   * grouped by the client that revealed them: for the audit log (`secagg.inconsistent-shares`).
   */
  get misbehaviour(): { sender: string; owners: string[]; kinds: SecAggMisbehaviour['kind'][] }[] {
    const by = new Map<string, SecAggMisbehaviour[]>();
    for (const m of this.server.misbehaviour) by.set(m.sender, [...(by.get(m.sender) ?? []), m]);
    return [...by].map(([sender, list]) => ({ sender, owners: [...new Set(list.map((m) => m.owner))].sort(), kinds: [...new Set(list.map((m) => m.kind))].sort() }));
  }

  constructor(opts: SecureCollectorOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
    const n = opts.cohort.length;
    if (n < 3) throw new FlockError('SECAGG_UNAVAILABLE', `secure aggregation needs a cohort of at least 3 clients; this round has ${n}`, { cohort: n });
    const st = opts.settings;
    let p: ReturnType<typeof secAggParameters>;
    try {
      p = secAggParameters({
        cohortSize: n,
        ...(st.k ? { k: st.k } : {}),
        ...(st.t ? { t: st.t } : {}),
        ...(st.dropoutRate !== undefined ? { dropoutRate: st.dropoutRate } : {}),
        ...(st.corruptionRate !== undefined ? { corruptionRate: st.corruptionRate } : {}),
      });
    } catch (err) {
      if (err instanceof RangeError) throw new FlockError('SECAGG_UNAVAILABLE', `no secure-aggregation parameters for a cohort of ${n}: ${err.message}`, { cohort: n });
      throw err;
    }
    const s = opts.settings;
    const dp = opts.dp;
    // Weighted FedAvg: the weight rides as the last element; under DP there is no weight.
    const vectorLength = dp ? opts.numParams : opts.numParams + 1;
    if (dp?.whole && !(dp.whole.cohort >= n && dp.whole.summands >= p.t && dp.whole.summands <= dp.whole.cohort)) {
      throw new RangeError(`dp.whole: a cohort of ${dp.whole.cohort} with ${dp.whole.summands} summands cannot hold this group of ${n} (t = ${p.t})`);
    }
    this.dpPlan = dp
      ? planDpQuantization({ clip: dp.clip, dimension: opts.numParams, cohort: dp.whole?.cohort ?? n, minSurvivors: dp.whole?.summands ?? p.t, noiseMultiplier: dp.noiseMultiplier, distributed: dp.mode === 'distributed' })
      : undefined;
    this.dpQuantizer = this.dpPlan ? new DpQuantizer({ clip: this.dpPlan.clip, scale: this.dpPlan.scale, dimension: opts.numParams, platform: opts.platform }) : undefined;
    this.config = {
      session: opts.session,
      k: p.k,
      t: p.t,
      vectorLength,
      clip: s.clip,
      nMax: n,
      weightCap: s.weightCap,
      ...(this.dpPlan ? { dp: { clip: this.dpPlan.clip, scale: this.dpPlan.scale, bound: this.dpPlan.bound, ...(dp?.whole && dp.mode === 'distributed' ? { summands: dp.whole.summands } : {}) } } : {}),
      deadlinesMs: { advertiseKeys: s.stageTimeoutMs, shareKeys: s.stageTimeoutMs, maskedInput: s.stageTimeoutMs, unmask: s.stageTimeoutMs },
    };
    this.encoder = new WeightedEncoder({ clip: s.clip, nMax: n, weightCap: s.weightCap, platform: opts.platform });
    this.server = new SecAggServer({
      session: opts.session,
      round: opts.round,
      k: p.k,
      t: p.t,
      vectorLength,
      cohort: [...opts.cohort],
      nMax: n,
      platform: opts.platform,
      ...(opts.trustIdentity ? { trustIdentity: opts.trustIdentity } : {}),
    });
    this.expected = new Set(opts.cohort);
  }

  /**
   * The aggregate of an unmasked ring sum of `count` survivors' encodings. Under DP: the sum
   * (weights play no part: there are none), its enforced sensitivity Delta2 / scale and the
   * noise multiplier the accountant composes; otherwise the weighted mean.
   */
  decodeSum(sum: Uint32Array, count: number): AggregateResult {
    if (this.dpQuantizer && this.dpPlan) {
      const total = this.dpQuantizer.decode(sum);
      const meanDelta = Float32Array.from(total, (v) => v / count);
      return { meanDelta, totalWeight: count, count, privacy: { sum: total, sensitivity: this.dpPlan.sensitivity, accountedNoiseMultiplier: this.dpPlan.accountedNoiseMultiplier } };
    }
    const decoded = this.encoder.decode(sum);
    return { meanDelta: Float32Array.from(decoded.mean), totalWeight: decoded.totalWeight, count };
  }

  /** Handles one inbound SecAgg event from an authenticated client. */
  async handle(clientId: string, event: string, args: unknown[]): Promise<Ack> {
    const payload = args[0];
    try {
      // Every stage message is parsed from its packed wire form (zod) before the engine sees it.
      switch (event) {
        case SECAGG_EVENTS.advertiseKeys: {
          const m = unpackAdvertise(payload);
          this.checkSender(clientId, m.clientId, 'advertise');
          await this.server.receiveAdvertise(m);
          break;
        }
        case SECAGG_EVENTS.shareKeys: {
          const m = unpackShares('share-keys', payload);
          this.checkSender(clientId, m.clientId, 'share');
          this.server.receiveShareKeys(m);
          break;
        }
        case SECAGG_EVENTS.maskedInput: {
          const m = unpackMaskedInput(payload);
          this.checkSender(clientId, m.clientId, 'masked');
          this.bytesUp += m.masked.byteLength;
          this.server.receiveMaskedInput(m);
          break;
        }
        case SECAGG_EVENTS.unmask: {
          const m = unpackUnmask(payload);
          this.checkSender(clientId, m.clientId, 'unmask');
          this.server.receiveUnmask(m);
          break;
        }
        default:
          throw new FlockError('UNKNOWN_EVENT', `unknown secure-aggregation event '${event}'`);
      }
    } catch (err) {
      if (isSecAggError(err)) throw new FlockError('SECAGG_REJECTED', err.message, { reason: err.code });
      throw err;
    }
    this.received.add(clientId);
    if ([...this.expected].every((id) => this.received.has(id))) this.wake?.();
    else this.membershipChanged(); // perhaps only disconnected members are missing now
    return { ok: true };
  }

  private checkSender(socketClient: string, claimed: string, stage: Stage): void {
    if (claimed !== socketClient) throw new FlockError('SECAGG_REJECTED', `message claims to be from '${claimed}' but arrived on the session of '${socketClient}'`, { reason: 'SENDER_MISMATCH' });
    if (stage !== this.stage) throw new FlockError('SECAGG_REJECTED', `the ${stage} stage is not open (current: ${this.stage})`, { reason: 'SECAGG_STAGE' });
    if (!this.expected.has(socketClient)) throw new FlockError('SECAGG_REJECTED', `client '${socketClient}' is not expected at the ${stage} stage`, { reason: 'SECAGG_STAGE' });
  }

  /** Waits until every expected client sent this stage's message, the deadline passes or `abort` is called. */
  private async waitStage(deadline: number): Promise<void> {
    const t0 = this.clock.now();
    try {
      await this.waitStageInner(deadline);
    } finally {
      this.stages.push({ stage: this.stage, seconds: (this.clock.now() - t0) / 1000, expected: this.expected.size, received: [...this.expected].filter((id) => this.received.has(id)).length });
    }
  }

  private async waitStageInner(deadline: number): Promise<void> {
    if (this.cancelled || [...this.expected].every((id) => this.received.has(id))) return;
    await new Promise<void>((resolve) => {
      const cancel = this.clock.after(Math.max(0, deadline - this.clock.now()), resolve);
      this.wake = () => {
        cancel();
        resolve();
      };
      this.membershipChanged(); // members may have gone before this stage opened
    });
    this.wake = undefined;
    this.cancelStall?.();
    this.cancelStall = undefined;
  }

  /** A member connected or disconnected: a stage waiting only for disconnected members ends after the grace. */
  membershipChanged(): void {
    const presence = this.opts.presence;
    if (!presence || !this.wake) return;
    const missing = [...this.expected].filter((id) => !this.received.has(id));
    if (missing.length === 0 || missing.some((id) => presence.connected(id))) {
      this.cancelStall?.();
      this.cancelStall = undefined;
      return;
    }
    this.cancelStall ??= this.clock.after(presence.graceMs, () => {
      this.cancelStall = undefined;
      this.wake?.();
    });
  }

  private nextStage(stage: Stage, expected: Iterable<string>): void {
    this.stage = stage;
    this.expected = new Set(expected);
    this.received = new Set();
  }

  /** The stage now running: advertise, share, masked, unmask or done (dashboard). */
  get currentStage(): string {
    return this.stage;
  }

  /** Ends the waiting of the current stage early (shutdown). */
  cancel(): void {
    this.cancelled = true;
    this.wake?.();
  }
  private cancelled = false;

  /**
   * Runs the stages; resolves with the aggregate of the survivors, or throws SECAGG_ABORTED
   * (nothing revealed) when too many dropped. `roundDeadline` bounds the masked-input stage,
   * which includes the clients' local training.
   */
  async run(roundDeadline: number): Promise<AggregateResult & { survivors: string[] }> {
    const stageMs = this.opts.settings.stageTimeoutMs;
    try {
      await this.waitStage(this.clock.now() + stageMs);
      const roster = this.server.closeAdvertise();
      const u1 = roster.entries.map((e) => e.clientId);
      this.nextStage('share', u1);
      const wireRoster = packRoster(roster);
      for (const id of u1) this.opts.send(id, SECAGG_EVENTS.roster, wireRoster);

      await this.waitStage(this.clock.now() + stageMs);
      const deliveries = this.server.closeShareKeys();
      this.nextStage('masked', deliveries.map((d) => d.clientId));
      for (const d of deliveries) this.opts.send(d.clientId, SECAGG_EVENTS.shareDelivery, packShares(d));

      await this.waitStage(Math.max(roundDeadline, this.clock.now() + stageMs));
      const request = this.server.closeMaskedInput();
      this.nextStage('unmask', request.survivors);
      for (const id of request.survivors) this.opts.send(id, SECAGG_EVENTS.unmaskRequest, request);

      await this.waitStage(this.clock.now() + stageMs);
      const sum = await this.server.finalize();
      this.stage = 'done';
      return { ...this.decodeSum(sum, request.survivors.length), survivors: request.survivors };
    } catch (err) {
      this.stage = 'done';
      this.server.abort();
      if (isSecAggError(err)) {
        throw new FlockError('SECAGG_ABORTED', err.code === 'SECAGG_ABORTED' ? 'too many clients dropped out to unmask the sum; nothing was revealed' : err.message, { reason: err.code, status: this.server.status().dropped });
      }
      throw err;
    }
  }
}
