import { AdaptiveClipper, RdpAccountant, addGridGaussianNoise, clipL2, l2Norm, updateNoiseMultiplier } from '@flock/privacy';
import { FlockError, type TrainConfig } from '@flock/protocol';
import type { AggregateResult, UpdateAggregator } from '../aggregator.js';
import type { FitContext, Strategy, StrategySettings } from '../strategy.js';
import { StrategyConfigError } from './errors.js';

export interface DifferentialPrivacyOptions {
  /**
   * `central`: the coordinator adds the noise to the aggregate; `local`: every client adds the
   * full noise; `distributed`: every client adds its share on the secure-aggregation lattice, so
   * the coordinator never sees a noise-free sum (needs secure aggregation).
   */
  mode: 'central' | 'local' | 'distributed';
  /** Noise stddev divided by the clip (sigma). */
  noiseMultiplier: number;
  /** L2 norm every client update is clipped to (C). */
  clip: number;
  /** Probability that a client takes part in a round (q), for the accountant. */
  samplingRate: number;
  /** The delta of the reported (epsilon, delta) guarantee. */
  delta: number;
  /**
   * Per-client budget: a client whose own epsilon (composed over the rounds it took part in,
   * without sampling amplification) would exceed this after one more round is not selected again.
   */
  clientEpsilonBudget?: number;
  /**
   * Adaptive clipping (Andrew et al. 2021), central mode: the clip moves each round towards the
   * `targetQuantile` of update norms, driven by a noisy count (stddev `countNoiseStddev`) of the
   * updates that came in under the clip. The update noise is raised so the round's total
   * privacy stays that of `noiseMultiplier`.
   */
  adaptiveClip?: { targetQuantile: number; learningRate: number; countNoiseStddev: number };
}

/** One client's privacy spend. */
export interface LedgerEntry {
  rounds: number;
  epsilon: number;
}

/**
 * Weights every update 1 (with example-count weights one client's influence would be
 * unbounded), counts the updates that arrived under the round's clip and, when the server is
 * trusted with the updates (central mode), clips each one to C again before it is summed
 * (DP-FedAvg): a client that skipped clipping cannot raise the sensitivity.
 */
class UniformWeights implements UpdateAggregator {
  unclipped = 0;
  constructor(
    private readonly inner: UpdateAggregator,
    private readonly clip: number,
    private readonly reclip: boolean,
  ) {}
  get needsIndividualUpdates(): boolean {
    return this.inner.needsIndividualUpdates;
  }
  add(clientId: string, delta: Float32Array): void {
    const norm = l2Norm(delta);
    // A clipped update has norm C (times 1 - 2^-22); anything clearly below was not clipped.
    if (norm < this.clip * (1 - 1e-5)) this.unclipped++;
    // clipL2 copies (the caller's array is not changed) and leaves norm <= C exactly.
    this.inner.add(clientId, this.reclip && norm > this.clip ? clipL2(delta, this.clip).vector : delta, 1);
  }
  result(): AggregateResult {
    return this.inner.result();
  }
}

/**
 * DP-FedAvg (McMahan et al. 2018) as a wrapper around any aggregate-based strategy: clients
 * clip their deltas to C (told via the round config), updates count equally, and Gaussian
 * noise of stddev sigma*C is added to the sum — by the coordinator (`central`) or by every
 * client (`local`). An RDP accountant composes the Poisson-subsampled Gaussian each round.
 * The wrapped strategy never sees anything but the noised mean.
 */
export class DifferentiallyPrivate implements Strategy {
  readonly name: string;
  /**
   * The accountant's amplification by sampling needs secret cohorts, and the un-noised client
   * statistics are not accounted: the coordinator publishes neither (confidential.ts).
   */
  readonly confidentialRounds = true;
  #accountant = new RdpAccountant();
  private rounds = 0;
  /** Replaced (not mutated) by restoreState, which is why it is not readonly. */
  private clipper: AdaptiveClipper | undefined;
  /** The noise multiplier applied to the updates (lower than the total when adaptive clipping spends some). */
  private readonly updateNoise: number;
  private lastAggregator: UniformWeights | undefined;
  /** The clip the last committed round used (receipts and metrics report it). */
  private roundClip: number;
  private readonly ledger = new Map<string, LedgerEntry>();
  /** Epsilon of one client after r rounds of participation (q = 1: no amplification credit), memoised. */
  private readonly perClient: number[] = [0];

  constructor(
    readonly inner: Strategy,
    readonly options: DifferentialPrivacyOptions,
  ) {
    const { mode, noiseMultiplier, clip, samplingRate, delta } = options;
    if (mode !== 'central' && mode !== 'local' && mode !== 'distributed') throw new StrategyConfigError('STRATEGY_INVALID', `mode must be 'central', 'local' or 'distributed'; got '${String(mode)}'`);
    for (const [k, v] of Object.entries({ noiseMultiplier, clip })) {
      if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) throw new StrategyConfigError('STRATEGY_INVALID', `${k} must be a positive number; got ${String(v)}`);
    }
    if (!(samplingRate > 0 && samplingRate <= 1)) throw new StrategyConfigError('STRATEGY_INVALID', `samplingRate must be in (0, 1]; got ${samplingRate}`);
    if (!(delta > 0 && delta < 1)) throw new StrategyConfigError('STRATEGY_INVALID', `delta must be in (0, 1); got ${delta}`);
    this.name = `dp-${mode}(${inner.name})`;
    this.updateNoise = noiseMultiplier;
    this.roundClip = clip;
    if (options.adaptiveClip) {
      if (mode !== 'central') {
        throw new StrategyConfigError('STRATEGY_INVALID', 'adaptive clipping needs central mode: in local and distributed modes the clipped/unclipped bits would have to be aggregated privately, which Flock does not do yet');
      }
      this.clipper = new AdaptiveClipper(clip, options.adaptiveClip);
      this.updateNoise = updateNoiseMultiplier(noiseMultiplier, options.adaptiveClip.countNoiseStddev);
    }
  }

  /**
   * Refuses (DP_UNAVAILABLE) coordinator settings under which the reported epsilon would be
   * wrong. Called by the coordinator at construction:
   * - the accountant's amplification by sampling holds only if every eligible client joins each
   *   round independently with probability `samplingRate`: the coordinator must sample Poisson
   *   cohorts with `fraction` equal to it (fixed-size cohorts of 10 out of 20 online clients are
   *   a rate of 0.5, whatever the accountant was told);
   * - adaptive clipping needs the unclipped count, which secure aggregation hides;
   * - evaluation reports are un-noised client statistics, which local and distributed modes
   *   must not send to the coordinator.
   */
  checkSettings(settings: StrategySettings): void {
    const { samplingRate } = this.options;
    const { sampling, fraction } = settings;
    if (this.options.adaptiveClip && settings.secureAggregation.enabled) {
      // Under SecAgg the coordinator sees only the sum: it would count 0 unclipped updates every
      // round and the clip would grow without bound. The bits would have to be summed securely
      // (and noised), which Flock does not do.
      throw new FlockError(
        'DP_UNAVAILABLE',
        'adaptive clipping cannot run with secure aggregation: the coordinator never sees which updates were clipped, so the count it moves the clip by would be wrong; use a fixed clip with secure aggregation, or turn secure aggregation off (central mode)',
        { adaptiveClip: true, secureAggregation: true },
      );
    }
    const { mode } = this.options;
    if (mode !== 'central' && settings.evaluateEvery > 0) {
      // An evaluation report is a client's un-noised loss, accuracy and example count, sent
      // in the clear to a coordinator these modes do not trust.
      throw new FlockError(
        'DP_UNAVAILABLE',
        `evaluation rounds (evaluateEvery ${settings.evaluateEvery}) send each client's un-noised loss, accuracy and example count to the coordinator, which ${mode} differential privacy does not trust: set evaluateEvery: 0, or evaluate the committed models centrally on held-out data`,
        { mode, evaluateEvery: settings.evaluateEvery },
      );
    }
    if (sampling !== 'poisson' || fraction !== samplingRate) {
      throw new FlockError(
        'DP_UNAVAILABLE',
        `differential privacy accounts for Poisson sampling at rate ${samplingRate}, but the coordinator samples ${sampling === 'poisson' ? 'Poisson' : `'${sampling}'`} cohorts with fraction ${fraction}: ` +
          `set the coordinator settings sampling: 'poisson' and fraction: ${samplingRate} (or samplingRate: ${fraction} if that is the rate you meant)`,
        { sampling, fraction, samplingRate },
      );
    }
  }

  /** The RDP accountant composing every committed round. */
  get accountant(): RdpAccountant {
    return this.#accountant;
  }

  /** The clip clients are told to use this round. */
  get clip(): number {
    return this.clipper?.clip ?? this.options.clip;
  }

  configureFit(ctx: FitContext): TrainConfig {
    const { mode, noiseMultiplier } = this.options;
    const clip = this.clip;
    const noise = mode === 'local' ? { noiseStddev: noiseMultiplier * clip, noiseMultiplier } : mode === 'distributed' ? { noiseMultiplier } : {};
    return { ...this.inner.configureFit(ctx), privacy: { mode, clip, ...noise } };
  }

  createAggregator(numParams: number): UpdateAggregator {
    // Local mode: the updates carry their noise, and clipping them again would shrink it.
    this.lastAggregator = new UniformWeights(this.inner.createAggregator(numParams), this.clip, this.options.mode === 'central');
    return this.lastAggregator;
  }

  aggregateFit(global: Float32Array, aggregate: AggregateResult, ctx: FitContext): Float32Array {
    // The unclipped fraction is estimated over the EXPECTED cohort (q times the eligible
    // population, public) from centred bits (privacy/dp/adaptive-clip.ts): the number of
    // updates that came in depends on who took part and is not released.
    const population = ctx.population;
    if (this.clipper && (population === undefined || !(population >= 1))) {
      throw new StrategyConfigError('STRATEGY_INVALID', 'adaptive clipping needs FitContext.population (the number of clients eligible for the round; the coordinator sets it) for its public denominator');
    }
    let meanDelta = aggregate.meanDelta;
    this.roundClip = this.clip;
    // The noise multiplier this round is accounted with (below the configured one only when the
    // distributed discrete Gaussian's tau term is not negligible, privacy/dp/ddgauss.ts).
    let accounted = this.options.noiseMultiplier;
    const secure = aggregate.privacy;
    if (secure) {
      // Secure aggregation (central or distributed mode): the coordinator holds the SUM of the
      // quantized updates, each of L2 norm <= Delta2 (conditional rounding) and no client weight
      // in it. Released: (sum + noise) / D with the public fixed denominator D = q * population
      // (McMahan et al. 2018), never a count or weight total the clients influence.
      if (population === undefined || !(population >= 1)) {
        throw new StrategyConfigError('STRATEGY_INVALID', 'differential privacy under secure aggregation needs FitContext.population (the coordinator sets it) for its public denominator');
      }
      const denominator = Math.max(1, this.options.samplingRate * population);
      meanDelta = Float32Array.from(secure.sum, (v) => v / denominator);
      if (this.options.mode === 'central') {
        // Noise N(0, (sigma * Delta2/scale)^2) on the sum, i.e. sensitivity / D on the released mean.
        addGridGaussianNoise(meanDelta, secure.sensitivity / denominator, this.updateNoise);
      } else {
        accounted = Math.min(accounted, secure.accountedNoiseMultiplier);
      }
    } else if (this.options.mode === 'central') {
      // Noise on the sum is N(0, (sigma C)^2); on the mean of `count` updates it is that / count.
      // Exact discrete Gaussian on a fine grid (privacy/dp/grid-noise.ts), not Box-Muller floats.
      meanDelta = Float32Array.from(meanDelta);
      addGridGaussianNoise(meanDelta, this.clip / aggregate.count, this.updateNoise);
    }
    if (this.clipper && this.lastAggregator) {
      this.clipper.update({ unclipped: this.lastAggregator.unclipped, count: aggregate.count, expectedCount: this.options.samplingRate * population! });
    }
    // Distributed mode releases a SUM of the clients' discrete Gaussians, not one Gaussian: its
    // subsampling is accounted with the general bound (privacy/dp/rdp.ts, Zhu and Wang 2019),
    // which holds for any mechanism with that RDP curve (Kairouz et al. 2021, Proposition 14).
    this.#accountant.compose(this.options.samplingRate, accounted, 1, this.options.mode === 'distributed' ? 'general' : 'gaussian');
    this.rounds++;
    for (const id of ctx.reporters ?? []) {
      const rounds = (this.ledger.get(id)?.rounds ?? 0) + 1;
      this.ledger.set(id, { rounds, epsilon: this.clientEpsilon(rounds) });
    }
    return this.inner.aggregateFit(global, { ...aggregate, meanDelta, privacy: undefined }, ctx);
  }

  private clientEpsilon(rounds: number): number {
    while (this.perClient.length <= rounds) {
      const acc = new RdpAccountant().compose(1, this.options.noiseMultiplier, this.perClient.length);
      this.perClient.push(acc.epsilon(this.options.delta).epsilon);
    }
    return this.perClient[rounds]!;
  }

  /** A client may be selected while one more round keeps it within its budget. */
  eligible(clientId: string): boolean {
    const budget = this.options.clientEpsilonBudget;
    if (budget === undefined) return true;
    return this.clientEpsilon((this.ledger.get(clientId)?.rounds ?? 0) + 1) <= budget;
  }

  /** Every client's spend so far (kept with the coordinator's state). */
  ledgerEntries(): Array<{ clientId: string } & LedgerEntry> {
    return [...this.ledger].map(([clientId, e]) => ({ clientId, ...e })).sort((a, b) => (a.clientId < b.clientId ? -1 : 1));
  }

  /** The federation's epsilon so far at the configured delta. */
  epsilon(): number {
    return this.rounds === 0 ? 0 : this.accountant.epsilon(this.options.delta).epsilon;
  }

  /** Distributed noise only exists inside secure aggregation. */
  get requiresSecureAggregation(): boolean {
    return this.options.mode === 'distributed';
  }

  receiptFields(): { clip: number; noiseMultiplier: number; mode: 'central' | 'local' | 'distributed'; epsilonSpent: number; delta: number } {
    const { noiseMultiplier, mode, delta } = this.options;
    return { clip: this.roundClip, noiseMultiplier, mode, epsilonSpent: this.epsilon(), delta };
  }

  /** Merged into the committed model's metrics (served by GET /v1/models/...). */
  roundMetrics(): Record<string, number> {
    return { epsilon: this.epsilon(), delta: this.options.delta, noiseMultiplier: this.options.noiseMultiplier, clip: this.roundClip };
  }

  /**
   * Everything this strategy must not forget across a coordinator restart, as plain JSON: the
   * accountant's composed events, the per-client ledger, the adaptive clip and the wrapped
   * strategy's own state. Saved in the same transaction as the round commit it belongs to.
   */
  state(): DifferentialPrivacyState {
    const inner = this.inner as Partial<{ state(): unknown }>;
    return {
      format: 'flock-dp-state/v1',
      strategy: this.name,
      rounds: this.rounds,
      accountant: this.#accountant.events,
      ledger: this.ledgerEntries(),
      clip: this.clip,
      roundClip: this.roundClip,
      ...(typeof inner.state === 'function' ? { inner: inner.state() } : {}),
    };
  }

  /** Restores a state saved by {@link state} of the same strategy; validates everything before changing anything. */
  restoreState(state: unknown): void {
    const bad = (what: string): never => {
      throw new StrategyConfigError('STRATEGY_INVALID', `not a saved differential-privacy state: ${what}`);
    };
    if (!state || typeof state !== 'object') bad('expected an object');
    const s = state as Partial<DifferentialPrivacyState>;
    if (s.format !== 'flock-dp-state/v1') bad(`format must be 'flock-dp-state/v1'`);
    if (s.strategy !== this.name) throw new StrategyConfigError('STRATEGY_INVALID', `the saved state belongs to strategy "${String(s.strategy)}", not "${this.name}"`);
    if (!Number.isSafeInteger(s.rounds) || s.rounds! < 0) bad('rounds must be a non-negative integer');
    const positive = (v: unknown): boolean => typeof v === 'number' && v > 0 && Number.isFinite(v);
    if (!positive(s.clip) || !positive(s.roundClip)) bad('clip and roundClip must be positive numbers');
    if (!Array.isArray(s.accountant)) bad('accountant must be an array of events');
    const accountant = new RdpAccountant();
    for (const e of s.accountant!) accountant.compose(e.q, e.sigma, e.steps, e.subsampling ?? 'gaussian'); // validates each event
    if (!Array.isArray(s.ledger)) bad('ledger must be an array');
    const ledger = new Map<string, LedgerEntry>();
    for (const e of s.ledger!) {
      if (!e || typeof e.clientId !== 'string' || !Number.isSafeInteger(e.rounds) || e.rounds < 0 || !(typeof e.epsilon === 'number' && e.epsilon >= 0)) bad('ledger entries must be {clientId, rounds, epsilon}');
      ledger.set(e.clientId, { rounds: e.rounds, epsilon: e.epsilon });
    }
    const inner = this.inner as Partial<{ restoreState(state: unknown): void }>;
    if (s.inner !== undefined) {
      if (typeof inner.restoreState !== 'function') bad(`it holds state of the wrapped strategy, but ${this.inner.name} keeps none`);
      inner.restoreState!(s.inner);
    }
    this.#accountant = accountant;
    this.rounds = s.rounds!;
    this.ledger.clear();
    for (const [k, v] of ledger) this.ledger.set(k, v);
    if (this.options.adaptiveClip) this.clipper = new AdaptiveClipper(s.clip!, this.options.adaptiveClip);
    this.roundClip = s.roundClip!;
  }
}

/** The JSON a DifferentiallyPrivate strategy saves (see `state()`). */
export interface DifferentialPrivacyState {
  format: 'flock-dp-state/v1';
  strategy: string;
  /** Committed rounds. */
  rounds: number;
  /** The accountant's composed (q, sigma, steps) events. */
  accountant: Array<{ q: number; sigma: number; steps: number; subsampling?: 'general' }>;
  ledger: Array<{ clientId: string } & LedgerEntry>;
  /** The clip clients are told to use next (moves under adaptive clipping). */
  clip: number;
  /** The clip of the last committed round. */
  roundClip: number;
  /** The wrapped strategy's state, if it keeps one. */
  inner?: unknown;
}
