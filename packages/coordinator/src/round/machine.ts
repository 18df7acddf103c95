import {
  EVENTS,
  FlockError,
  UPLOAD_EVENTS,
  decodeFloat32,
  firstNonFinite,
  type ErrorEnvelope,
  type EvaluateReport,
  type RoundStart,
  type UpdateMeta,
  type UploadBegin,
} from '@flock/protocol';
import type { AggregateResult, UpdateAggregator } from '../aggregator.js';
import type { SecureCollector } from '../secure-collector.js';
import type { Clock } from './clock.js';

export type RoundKind = 'train' | 'evaluate';

/** What a round is, fixed when it starts (protocol/v1.md 7.2 step 2). */
export interface RoundPlan {
  roundId: string;
  round: number;
  kind: RoundKind;
  modelVersion: number;
  cohort: readonly string[];
  /** Reports are refused after this time (ms since the epoch, `clock.now()`). */
  deadline: number;
}

export interface RoundMachineOptions {
  clock: Clock;
  numParams: number;
  /** Cap on the aggregation weight (and metric weight) of one report. */
  maxExampleWeight: number;
  /** Refuse plain `round:update`: only sealed, chunked uploads are accepted. */
  sealRequired: boolean;
  /** Training rounds: where accepted deltas go. */
  aggregator?: UpdateAggregator | undefined;
  /** Read at each accepted update: hold updates and add them in client-id order at the end. */
  deterministicOrder(): boolean;
  /**
   * Durable idempotency key (round id, client id); false if it was claimed before. SQLite
   * answers synchronously; a promise (PostgreSQL, one round-trip per update) defers counting.
   */
  claim?: ((roundId: string, clientId: string) => boolean | Promise<boolean>) | undefined;
  /**
   * Early end (see {@link RoundMachine.membershipChanged}): whether a client has a live session,
   * the quorum a round needs to count, and how long a hopeless round waits for a reconnection.
   */
  presence?: { connected(clientId: string): boolean; minClients: number; graceMs: number } | undefined;
  /** Called whenever a member settles or its connection changes. */
  onProgress?: ((progress: RoundProgress) => void) | undefined;
}

/** Where a collecting round stands (logged while it collects; protocol/v1.md 7.4). */
export interface RoundProgress {
  round: number;
  selected: number;
  reported: number;
  /** Settled without a counted report: rejected or declined. */
  rejected: number;
  /** Not settled, no live session. */
  disconnected: number;
  /** Not settled, connected. */
  waiting: number;
}

/**
 * One round's state and rules, without transport: the cohort, who has settled (reported,
 * rejected or declined, protocol/v1.md 7.4), the running aggregate and metric sums, and the
 * checks every report passes (section 8). `finished` resolves once every cohort member has
 * settled or finish() is called (deadline, shutdown).
 */
export class RoundMachine {
  readonly roundId: string;
  readonly round: number;
  readonly kind: RoundKind;
  readonly modelVersion: number;
  readonly cohort: ReadonlySet<string>;
  readonly deadline: number;
  /** Clients that need not be waited for any more (reported, rejected or declined). */
  readonly settled = new Set<string>();
  /** Cohort members not settled yet. */
  private unsettled: number;
  /** Unsettled members without a live session (undefined: to be rebuilt from presence). */
  private away: Set<string> | undefined;
  readonly reporters: string[] = [];
  readonly rejected: Array<{ clientId: string; code: string }> = [];
  numExamples = 0;
  collecting = true;
  /** Present when the round aggregates securely. */
  secure: SecureCollector | undefined;
  /** The round:start message, re-sent to a cohort member that reconnects mid-round. */
  start: RoundStart | undefined;
  readonly finished: Promise<void>;
  /** Ends the collection now (every member settled, the deadline, shutdown). */
  readonly finish: () => void;
  private aggregator: UpdateAggregator | undefined;
  /** Held only with deterministicOrder: updates are summed in client-id order at the end. */
  private readonly held = new Map<string, { delta: Float32Array; weight: number }>();
  private readonly metricSums = new Map<string, number>();
  /** Examples behind each metric key (not every client reports every metric). */
  private readonly metricWeights = new Map<string, number>();
  private readonly o: RoundMachineOptions;
  /** Why collection ended before the deadline with members unsettled, if it did. */
  endedEarly: string | undefined;
  private cancelGrace: (() => void) | undefined;

  constructor(plan: RoundPlan, options: RoundMachineOptions) {
    this.roundId = plan.roundId;
    this.round = plan.round;
    this.kind = plan.kind;
    this.modelVersion = plan.modelVersion;
    this.cohort = new Set(plan.cohort);
    this.unsettled = this.cohort.size;
    this.deadline = plan.deadline;
    this.o = options;
    this.aggregator = options.aggregator;
    let finish!: () => void;
    this.finished = new Promise<void>((resolve) => (finish = resolve));
    this.finish = finish;
  }

  /** Counts of the cohort by state: O(1) per report, so a round of n reports costs O(n), not O(n²). */
  progress(): RoundProgress {
    if (!this.away) {
      // Rebuilt after a change it was not told the client of (membershipChanged()).
      this.away = new Set();
      if (this.o.presence) for (const id of this.cohort) if (!this.settled.has(id) && !this.o.presence.connected(id)) this.away.add(id);
    }
    const disconnected = this.away.size;
    return { round: this.round, selected: this.cohort.size, reported: this.reporters.length, rejected: this.rejected.length, disconnected, waiting: this.unsettled - disconnected };
  }

  /** Members settle once; the unsettled count and the disconnected set follow. */
  private settle(clientId: string): void {
    if (this.settled.has(clientId)) return;
    this.settled.add(clientId);
    if (this.cohort.has(clientId)) this.unsettled--;
    this.away?.delete(clientId);
  }

  /**
   * A member connected or disconnected. Collection cannot gain anything when no unsettled member
   * is connected, nor count when the members still connected cannot make up the quorum: the
   * round then ends after the reconnection grace instead of at its deadline (a kill -9'd client
   * is seen at once; waiting out the deadline for it helps nobody). A reconnection within the
   * grace cancels it. A secure round ends the current stage instead, once every member it still
   * waits for has gone (SecureCollector.membershipChanged): dropouts are what SecAgg handles.
   */
  membershipChanged(clientId?: string): void {
    // Told who: one lookup keeps the disconnected set current; not told: rebuilt when next needed.
    if (clientId === undefined) this.away = undefined;
    else if (this.away && this.cohort.has(clientId) && !this.settled.has(clientId)) {
      if (this.o.presence && !this.o.presence.connected(clientId)) this.away.add(clientId);
      else this.away.delete(clientId);
    }
    this.checkPresence();
  }

  private checkPresence(): void {
    const presence = this.o.presence;
    if (!presence || !this.collecting) return;
    if (this.secure) {
      this.secure.membershipChanged();
      return;
    }
    const p = this.progress();
    this.o.onProgress?.(p);
    const why =
      p.waiting === 0 && p.disconnected > 0
        ? `every remaining cohort member (${p.disconnected}) disconnected`
        : p.reported + p.waiting < presence.minClients
          ? `the quorum of ${presence.minClients} can no longer be met (${p.reported} reported, ${p.waiting} still connected, ${p.disconnected} disconnected)`
          : undefined;
    if (!why) {
      this.cancelGrace?.();
      this.cancelGrace = undefined;
      return;
    }
    if (this.cancelGrace) return; // already counting down
    this.cancelGrace = this.o.clock.after(presence.graceMs, () => {
      this.cancelGrace = undefined;
      if (!this.collecting) return;
      this.endedEarly = why;
      this.finish();
    });
  }

  /** Selected and not settled yet. */
  awaits(clientId: string): boolean {
    return this.cohort.has(clientId) && !this.settled.has(clientId);
  }

  /** The checks of a report for this round (its id already matched), in the order of protocol/v1.md 8. */
  check(clientId: string, kind: RoundKind): void {
    if (!this.cohort.has(clientId)) throw new FlockError('NOT_SELECTED', `client ${clientId} is not in the cohort of round ${this.round}`);
    if (this.settled.has(clientId)) throw new FlockError('DUPLICATE_UPDATE', `client ${clientId} already reported for round ${this.round}`);
    if (!this.collecting || this.o.clock.now() > this.deadline) throw new FlockError('LATE_UPDATE', `round ${this.round} stopped collecting at its deadline`);
    if (this.kind !== kind) throw new FlockError('BAD_MESSAGE', `round ${this.round} is a ${this.kind} round; send ${this.kind === 'train' ? EVENTS.roundUpdate : EVENTS.roundEvaluate}`);
  }

  /** Settles a client with a rejection (its report will not count) and throws `err`. */
  reject(clientId: string, err: FlockError): never {
    this.settle(clientId);
    this.rejected.push({ clientId, code: err.code });
    this.maybeFinish();
    throw err;
  }

  /** `round:decline` from a member still awaited: settles it as DECLINED; false otherwise. */
  decline(clientId: string): boolean {
    if (!this.awaits(clientId)) return false;
    this.settle(clientId);
    this.rejected.push({ clientId, code: 'DECLINED' });
    this.maybeFinish();
    return true;
  }

  /** A checked plain `round:update`: the delta is decoded and aggregated, or the client settles rejected. */
  update(clientId: string, meta: UpdateMeta, payload: Uint8Array): void | Promise<void> {
    if (!this.secure && this.o.sealRequired) {
      throw new FlockError('UPLOAD_REJECTED', `this coordinator only accepts sealed, chunked updates (${UPLOAD_EVENTS.begin}); see welcome.sealKey`, { reason: 'unsealed' });
    }
    if (this.secure) throw new FlockError('BAD_MESSAGE', `round ${this.round} aggregates securely: send the secagg stage messages, not ${EVENTS.roundUpdate}`);
    this.checkVersion(clientId, meta.modelVersion);
    let delta: Float32Array;
    try {
      delta = decodeFloat32(payload, this.o.numParams);
    } catch (err) {
      this.reject(clientId, err instanceof FlockError ? err : new FlockError('WRONG_SHAPE'));
    }
    return this.acceptDelta(clientId, meta.numExamples, meta.metrics ?? {}, delta);
  }

  /** A checked `round:upload` (before anything is allocated) and, again, its last chunk. */
  admitUpload(clientId: string, meta: UploadBegin): void {
    if (this.secure) throw new FlockError('BAD_MESSAGE', `round ${this.round} aggregates securely: send the secagg stage messages, not ${UPLOAD_EVENTS.begin}`);
    this.checkVersion(clientId, meta.modelVersion);
  }

  /**
   * The decoded delta of a finished, re-checked upload; `firstNonFinite` (the first NaN or
   * infinite value's index, -1 for none), when the receiver already scanned it chunk by chunk.
   */
  acceptUpload(clientId: string, meta: UploadBegin, delta: Float32Array, firstNonFinite?: number): void | Promise<void> {
    return this.acceptDelta(clientId, meta.numExamples, meta.metrics ?? {}, delta, firstNonFinite);
  }

  /** A checked `round:evaluate`. */
  evaluate(clientId: string, report: EvaluateReport): void {
    if (report.modelVersion !== this.modelVersion) {
      this.reject(clientId, new FlockError('MODEL_VERSION_MISMATCH', `evaluation is of model version ${report.modelVersion}; round ${this.round} evaluates ${this.modelVersion}`));
    }
    this.record(clientId, report.numExamples, { loss: report.loss, accuracy: report.accuracy });
  }

  /** The survivors of a secure round report together, with the sum's total weight. */
  settleSecure(survivors: readonly string[], totalWeight: number): void {
    for (const id of survivors) {
      this.reporters.push(id);
      this.settle(id);
    }
    this.numExamples = totalWeight;
  }

  /**
   * Fleet leader (fleet/member.ts): another node's partial for its share of the cohort. Its
   * reporters and rejections settle at once; `add` adds its sum to the aggregator. Refused
   * (false, nothing changed) if it names a client outside the cohort or already settled.
   */
  mergePartial(
    p: { reporters: readonly string[]; rejected: ReadonlyArray<{ clientId: string; code: string }>; numExamples: number; metrics: Readonly<Record<string, { sum: number; weight: number }>> },
    add?: (aggregator: UpdateAggregator) => void,
  ): boolean {
    const ids = [...p.reporters, ...p.rejected.map((x) => x.clientId)];
    if (new Set(ids).size !== ids.length || ids.some((id) => !this.awaits(id))) return false;
    if (p.reporters.length > 0 && this.kind === 'train') {
      if (!this.aggregator || !add) return false;
      add(this.aggregator);
    }
    for (const id of p.reporters) {
      this.settle(id);
      this.reporters.push(id);
    }
    for (const x of p.rejected) {
      this.settle(x.clientId);
      this.rejected.push({ clientId: x.clientId, code: x.code });
    }
    this.numExamples += p.numExamples;
    for (const [k, m] of Object.entries(p.metrics)) {
      this.metricSums.set(k, (this.metricSums.get(k) ?? 0) + m.sum);
      this.metricWeights.set(k, (this.metricWeights.get(k) ?? 0) + m.weight);
    }
    this.maybeFinish();
    return true;
  }

  /** Fleet follower: the weighted metric sums behind metrics(), to ship to the leader. */
  metricTotals(): Record<string, { sum: number; weight: number }> {
    const out: Record<string, { sum: number; weight: number }> = {};
    for (const [k, v] of this.metricSums) out[k] = { sum: v, weight: this.metricWeights.get(k)! };
    return out;
  }

  /** The round:start message for a member that reconnects while it is still awaited, with the time left. */
  restartFor(clientId: string): RoundStart | undefined {
    if (!this.start || !this.collecting || !this.awaits(clientId)) return undefined;
    return { ...this.start, timeoutMs: Math.max(1, this.deadline - this.o.clock.now()) };
  }

  /** Weighted means of the reported metrics, prefixed train_ or eval_ (protocol/v1.md 7.6). */
  metrics(): Record<string, number> {
    const metrics: Record<string, number> = {};
    for (const [k, v] of this.metricSums) metrics[this.kind === 'train' ? `train_${k}` : `eval_${k}`] = v / this.metricWeights.get(k)!;
    return metrics;
  }

  /** The aggregate of the accepted deltas (held ones added in client-id order first). */
  aggregate(): AggregateResult {
    if (this.o.deterministicOrder()) {
      for (const id of [...this.held.keys()].sort()) {
        const h = this.held.get(id)!;
        this.aggregator!.add(id, h.delta, h.weight);
      }
      this.held.clear();
    }
    return this.aggregator!.result();
  }

  /** Drops the aggregator (and a pending early end) once the round is over. */
  release(): void {
    this.aggregator = undefined;
    this.cancelGrace?.();
    this.cancelGrace = undefined;
  }

  private checkVersion(clientId: string, modelVersion: number): void {
    if (modelVersion !== this.modelVersion) {
      this.reject(clientId, new FlockError('MODEL_VERSION_MISMATCH', `update is for model version ${modelVersion}; round ${this.round} trains version ${this.modelVersion}`));
    }
  }

  /** Non-finite check, weighting and aggregation of a decoded update; the aggregator copies what it keeps. */
  private acceptDelta(clientId: string, numExamples: number, metrics: Record<string, number>, delta: Float32Array, scanned?: number): void | Promise<void> {
    // Nothing is added before every value is known to be finite: a rejected update leaves the sum untouched.
    const bad = scanned ?? firstNonFinite(delta);
    if (bad >= 0) this.reject(clientId, new FlockError('NON_FINITE', `update value ${bad} is ${delta[bad]}; NaN and Infinity are never aggregated`, { index: bad }));
    // Durable idempotency key (round id, client id), claimed where an update is counted: a
    // re-sent upload is recognised and counted once (store/uploads.ts).
    const claimed = this.o.claim ? this.o.claim(this.roundId, clientId) : true;
    if (claimed instanceof Promise) {
      return claimed.then((ok) => {
        // The round may have stopped collecting (or the client settled) while the key was claimed.
        if (ok) this.check(clientId, 'train');
        this.count(clientId, numExamples, metrics, delta, ok);
      });
    }
    this.count(clientId, numExamples, metrics, delta, claimed);
  }

  private count(clientId: string, numExamples: number, metrics: Record<string, number>, delta: Float32Array, claimed: boolean): void {
    if (!claimed) throw new FlockError('DUPLICATE_UPDATE', `client ${clientId} already reported for round ${this.round}`);
    const weight = Math.min(numExamples, this.o.maxExampleWeight);
    // An order-independent aggregator (exact sum) gives the same bits without holding anything.
    if (this.o.deterministicOrder() && !this.aggregator!.orderIndependent) this.held.set(clientId, { delta: Float32Array.from(delta), weight });
    else {
      try {
        this.aggregator!.add(clientId, delta, weight);
      } catch (err) {
        // Refused by the aggregator (SUM_OVERFLOW: nothing was added): the client settles rejected.
        if (err instanceof FlockError) this.reject(clientId, err);
        throw err;
      }
    }
    this.record(clientId, numExamples, metrics);
  }

  private record(clientId: string, numExamples: number, metrics: Record<string, number>): void {
    this.settle(clientId);
    this.reporters.push(clientId);
    this.numExamples += numExamples;
    const w = Math.min(numExamples, this.o.maxExampleWeight);
    for (const [k, v] of Object.entries(metrics)) {
      this.metricSums.set(k, (this.metricSums.get(k) ?? 0) + v * w);
      this.metricWeights.set(k, (this.metricWeights.get(k) ?? 0) + w);
    }
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.o.presence && this.collecting) this.checkPresence();
    else this.o.onProgress?.(this.progress());
    // On the next turn of the event loop: the round's aggregation and commit would otherwise run
    // as a microtask before the last client's ack is written, and that client would wait for them.
    if (this.settled.size >= this.cohort.size) this.o.clock.defer(this.finish);
  }
}

/**
 * The checks of a report against the active round (protocol/v1.md 8): a report for another
 * round is LATE_UPDATE if that round ended (`hasEnded`), ROUND_NOT_ACTIVE otherwise.
 */
export function checkRound(active: RoundMachine | undefined, clientId: string, roundId: string, kind: RoundKind, hasEnded: (roundId: string) => boolean): RoundMachine {
  if (!active || active.roundId !== roundId) {
    if (hasEnded(roundId)) throw new FlockError('LATE_UPDATE', `round ${roundId} has already ended`);
    throw new FlockError('ROUND_NOT_ACTIVE', `round ${roundId} is not the active round${active ? ` (${active.roundId})` : ''}`);
  }
  active.check(clientId, kind);
  return active;
}

export type Outcome = { status: 'committed' } | { status: 'completed' } | { status: 'abandoned'; reason: ErrorEnvelope };

/**
 * How a round ends, decided in the order of protocol/v1.md 7.2 step 4: shutdown, a failed
 * secure aggregation, too few accepted reports, then commit (training) or complete (evaluation).
 */
export function decideOutcome(r: RoundMachine, o: { closing: boolean; secureError?: FlockError | undefined; minClients: number }): Outcome {
  if (o.closing) return { status: 'abandoned', reason: new FlockError('ROUND_ABANDONED', 'the coordinator is shutting down', { reason: 'shutdown' }).toEnvelope() };
  if (o.secureError) return { status: 'abandoned', reason: o.secureError.toEnvelope() };
  if (r.reporters.length < o.minClients) {
    return {
      status: 'abandoned',
      reason: new FlockError('TOO_FEW_REPORTS', `${r.reporters.length} of ${r.cohort.size} selected clients reported; the round needs ${o.minClients}`, {
        reported: r.reporters.length,
        selected: r.cohort.size,
        required: o.minClients,
      }).toEnvelope(),
    };
  }
  return { status: r.kind === 'train' ? 'committed' : 'completed' };
}
