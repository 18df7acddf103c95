import { randomBytes } from 'node:crypto';
import { EVENTS, FlockError, type ErrorEnvelope, type FederationDone, type RoundStart, type TrainConfig } from '@flock/protocol';
import { nodePlatform } from '@flock/privacy/node';
import type { IdentityKeyPair } from '@flock/privacy';
import type { AggregateResult } from '../aggregator.js';
import type { AuditEvent } from '../admin/audit.js';
import type { Logger } from '../logger.js';
import type { ModelStore } from '../model-store.js';
import type { CoordinatorSettings } from '../options.js';
import { SecureCollector } from '../secure-collector.js';
import { cohortSize, selectCohort, roundSelectionKey, selectPoisson } from '../selection.js';
import type { FederationStore } from '../store/types.js';
import type { FitContext, Strategy } from '../strategy.js';
import type { Clock, Wakeups } from './clock.js';
import { RoundCommitter, roundEndOf, summarize, type CommitFence, type RoundSummary } from './commit.js';
import { RoundMachine, checkRound, decideOutcome, type RoundKind, type RoundProgress } from './machine.js';
import { UnfinishedRounds, isStoreFault } from './store-faults.js';

/** The clients a round runs over, whatever carries them (one node's sockets, a cluster). */
export interface Fleet {
  /** Connected clients the strategy may select, sorted by id. */
  eligible(): string[];
  /** Resolves once at least `n` clients are eligible, or when `signal` aborts. */
  waitFor(n: number, signal: AbortSignal): Promise<void>;
  /** Sends one message to each of `ids` still connected. */
  send(ids: readonly string[], event: string, msg: unknown): void;
  /** Whether `clientId` has a live session (a round ends early when none of its awaited members has). */
  connected(clientId: string): boolean;
  /** Sends one message to every connected client, eligible or not. */
  broadcast(event: string, msg: unknown): void;
}

export interface RoundRunnerOptions {
  settings: CoordinatorSettings;
  strategy: Strategy;
  store: ModelStore;
  database: FederationStore | undefined;
  numParams: number;
  fleet: Fleet;
  clock: Clock;
  /** Fired on every connection, resume and close: cuts pauses short. */
  wakeups: Wakeups;
  logger: Logger;
  /** Update bytes received and weight bytes served since start (shared with the sessions and HTTP). */
  traffic: { up: number; down: number };
  /** Bound into every secure-aggregation message of this run. */
  session: string;
  /** The identity registry for secure aggregation (session/sessions.ts). */
  trustIdentity(clientId: string, identityKey: Uint8Array): boolean;
  signingKey: IdentityKeyPair;
  deterministicOrder(): boolean;
  /** A round stopped collecting: its unfinished uploads are dropped. */
  dropUploads(roundId: string): void;
  /** 'round' (RoundSummary), 'commit' (ModelVersion), 'done', 'error'. */
  emit(event: string, payload?: unknown): void;
  /** Appends to the coordinator's audit log (admin/audit.ts). */
  audit(event: AuditEvent): void;
  /** Where a resumed coordinator left off. */
  resumed: { roundCounter: number; trainRoundsCommitted: number; history: RoundSummary[] };
  /** Fleet (fleet/member.ts): may this node count a cohort member's report (throws a FlockError if not). */
  admit?: ((roundId: string, clientId: string) => void) | undefined;
  /** Fleet: publishes a commit under the leader's lease before it is stored (round/commit.ts CommitFence). */
  fence?: CommitFence | undefined;
  /**
   * Fleet: secure aggregation runs per node group (fleet/secagg-group.ts), not over the whole
   * cohort; the round itself collects the groups' sums like plain partials.
   */
  groupedSecure?: boolean | undefined;
}

/**
 * The round loop (protocol/v1.md 7.2): wait for clients, run a training round, back off after
 * an abandoned one, run an evaluation round every `evaluateEvery` commits; pause and resume.
 */
export class RoundRunner {
  roundCounter: number;
  trainRoundsCommitted: number;
  readonly history: RoundSummary[];
  paused = false;
  private activeRound: RoundMachine | undefined;
  private readonly endedRoundIds = new Set<string>();
  private readonly committer: RoundCommitter;
  private readonly unfinished: UnfinishedRounds;
  private readonly stop = new AbortController();
  private running = false;
  private loopDone = false;
  private loopPromise: Promise<void> | undefined;
  private readonly o: RoundRunnerOptions;

  constructor(o: RoundRunnerOptions) {
    this.o = o;
    this.roundCounter = o.resumed.roundCounter;
    this.trainRoundsCommitted = o.resumed.trainRoundsCommitted;
    this.history = o.resumed.history;
    // Reports for rounds of an earlier run are LATE_UPDATE (every resumed round has ended).
    for (const h of o.resumed.history.slice(-64)) this.endedRoundIds.add(h.roundId);
    this.unfinished = new UnfinishedRounds(o.database, o.logger);
    this.committer = new RoundCommitter({ strategy: o.strategy, store: o.store, database: o.database, signingKey: o.signingKey, federationId: o.settings.federationId });
  }

  get active(): RoundMachine | undefined {
    return this.activeRound;
  }

  get closed(): boolean {
    return this.stop.signal.aborted;
  }

  /** The active round, if a report for `roundId` may count in it (protocol/v1.md 8). */
  check(clientId: string, roundId: string, kind: RoundKind): RoundMachine {
    return checkRound(this.activeRound, clientId, roundId, kind, (id) => {
      if (this.endedRoundIds.has(id)) return true;
      // SQLite answers synchronously from the whole log; an asynchronous store (PostgreSQL) is not
      // asked per report: the ids of the resumed history above stand in for it.
      const durable = this.o.database?.backend === 'sqlite' ? this.o.database.rounds.byId(id) : undefined;
      return durable !== undefined && !(durable instanceof Promise) && durable.status !== 'running';
    });
  }

  /**
   * Fleet followers (fleet/member.ts): the local round this node collects for the leader, or
   * undefined once it shipped; reports are checked against it as against a round of our own.
   */
  adopt(r: RoundMachine | undefined): void {
    if (this.activeRound && this.activeRound !== r) {
      this.endedRoundIds.add(this.activeRound.roundId);
      if (this.endedRoundIds.size > 64) this.endedRoundIds.delete(this.endedRoundIds.values().next().value!);
    }
    this.activeRound = r;
  }

  /** Starts the round loop (idempotent). */
  start(): void {
    if (this.running || this.closed) return;
    this.running = true;
    this.loopPromise = this.loop().catch((err: unknown) => {
      this.o.logger.error({ err }, 'round loop failed');
      this.o.emit('error', err);
    });
  }

  /** Ends the active round (abandoned, shutdown) and the loop. */
  async close(): Promise<void> {
    this.stop.abort();
    this.running = false;
    this.activeRound?.finish();
    this.activeRound?.secure?.cancel();
    this.o.wakeups.fire();
    await this.loopPromise;
  }

  /** Stops starting new rounds (the active one finishes); resume() continues. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.o.wakeups.fire();
    // The loop ended (all rounds ran) but more were asked for: run it again.
    if (this.loopDone && this.running && !this.closed && this.trainRoundsCommitted < this.o.settings.rounds) {
      this.loopDone = false;
      this.running = false;
      this.start();
    }
  }

  /** A pause that close(), a connection or resume() cuts short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = this.o.clock.after(ms, resolve);
      this.o.wakeups.once(() => {
        cancel();
        resolve();
      });
    });
  }

  /** settings.debugPhaseDelayMs at a round phase boundary (crash testing); close() cuts it short. */
  private async debugPause(): Promise<void> {
    const { clock } = this.o;
    const until = clock.now() + this.o.settings.debugPhaseDelayMs;
    while (!this.closed && clock.now() < until) await this.sleep(until - clock.now());
  }

  private async loop(): Promise<void> {
    const { settings, fleet } = this.o;
    let abandonedInARow = 0;
    while (!this.closed && this.trainRoundsCommitted < settings.rounds) {
      while (this.paused && !this.closed) await this.o.wakeups.next();
      await fleet.waitFor(settings.minClients, this.stop.signal);
      if (this.closed) break;
      const summary = await this.runRound('train');
      if (this.closed) break;
      if (settings.roundIntervalMs > 0) await this.sleep(settings.roundIntervalMs);
      if (summary.status === 'committed') {
        this.trainRoundsCommitted++;
        const every = settings.evaluateEvery;
        if (every > 0 && this.trainRoundsCommitted % every === 0) {
          await fleet.waitFor(settings.minClients, this.stop.signal);
          if (!this.closed) await this.runRound('evaluate');
        }
        abandonedInARow = 0;
      } else {
        // Back off before retrying an abandoned round: 0.2 s, doubling, at most 30 s.
        abandonedInARow++;
        await new Promise<void>((res) => this.o.clock.after(Math.min(30_000, 200 * 2 ** Math.min(abandonedInARow - 1, 8)), res));
      }
    }
    this.loopDone = true;
    if (!this.closed) {
      fleet.broadcast(EVENTS.federationDone, this.doneMessage()!);
      this.o.emit('done');
    }
  }

  /**
   * `federation:done` (protocol/v1.md 5.9) once the configured training rounds are committed and
   * the loop has ended (a client connecting later gets it after its welcome); undefined before,
   * and again once the operator raised `rounds` (even while paused: a client joining then waits
   * for the rounds still to come).
   */
  doneMessage(): FederationDone | undefined {
    if (!this.loopDone || this.closed || this.trainRoundsCommitted < this.o.settings.rounds) return undefined;
    const latest = this.o.store.latest();
    return { federationId: this.o.settings.federationId, rounds: this.trainRoundsCommitted, modelVersion: latest.version, modelHash: latest.hash, modelPath: `/v1/models/${latest.version}` };
  }

  /** One round: select, start (durably), broadcast, collect, decide, commit, end. */
  private async runRound(kind: RoundKind): Promise<RoundSummary> {
    const { settings, strategy, store, database, clock, fleet, logger, traffic } = this.o;
    const round = ++this.roundCounter;
    const roundId = `${round}-${randomBytes(6).toString('hex')}`;
    const startedAt = new Date(clock.now());
    const traffic0 = { ...traffic };
    const model = store.latest();
    const available = fleet.eligible();
    logger.info({ round, kind, phase: 'selection' }, 'round phase');
    if (settings.debugPhaseDelayMs > 0) await this.debugPause();
    // Training cohorts are keyed on the train round index (the version this round would
    // commit), not on the round counter: a round abandoned by a crash (or a timeout) then does
    // not shift the seeded selection of every later round, so a seeded run ends with the same
    // model however often the coordinator restarted (docs/explanation/durability.md).
    const key = roundSelectionKey(kind, round, model.version, settings.selectionSeed);
    const cohort =
      settings.sampling === 'poisson'
        ? selectPoisson(available, settings.fraction, key)
        : selectCohort(available, cohortSize(available.length, { fraction: settings.fraction, min: settings.minClients, max: settings.maxClients }), key);
    const ctx: FitContext = { round, modelVersion: model.version, config: settings.train, population: available.length };
    const config: TrainConfig = kind === 'train' ? strategy.configureFit(ctx) : settings.train;
    const deadline = clock.now() + settings.roundTimeoutMs;
    const r = new RoundMachine(
      { roundId, round, kind, modelVersion: model.version, cohort, deadline },
      {
        clock,
        numParams: this.o.numParams,
        maxExampleWeight: settings.maxExampleWeight,
        sealRequired: settings.uploads.sealRequired,
        aggregator: kind === 'train' ? strategy.createAggregator(this.o.numParams) : undefined,
        deterministicOrder: this.o.deterministicOrder,
        claim:
          database || this.o.admit
            ? (id, clientId) => {
                this.o.admit?.(id, clientId);
                return database ? database.uploads.claim(id, clientId) : true;
              }
            : undefined,
        presence: { connected: (id) => fleet.connected(id), minClients: settings.minClients, graceMs: settings.reconnectGraceMs },
        onProgress: progressLog(logger, clock),
      },
    );
    let secureError: FlockError | undefined;
    if (kind === 'train' && settings.secureAggregation.enabled && !this.o.groupedSecure) {
      try {
        r.secure = new SecureCollector({
          session: this.o.session,
          round,
          cohort,
          numParams: this.o.numParams,
          settings: settings.secureAggregation,
          platform: nodePlatform,
          clock,
          send: (id, event, payload) => fleet.send([id], event, payload),
          trustIdentity: (id, k) => this.o.trustIdentity(id, k),
          presence: { connected: (id) => fleet.connected(id), graceMs: settings.reconnectGraceMs },
          // Central and distributed DP: conditional rounding at a planned scale, no client weights.
          ...(config.privacy && config.privacy.mode !== 'local' ? { dp: { mode: config.privacy.mode, clip: config.privacy.clip, noiseMultiplier: config.privacy.noiseMultiplier ?? 0 } } : {}),
        });
      } catch (err) {
        secureError = err instanceof FlockError ? err : new FlockError('SECAGG_UNAVAILABLE', (err as Error).message);
      }
    }
    this.activeRound = r;
    const start: RoundStart = {
      roundId,
      round,
      kind,
      modelVersion: model.version,
      modelHash: model.hash,
      modelPath: `/v1/models/${model.version}`,
      deadline,
      timeoutMs: settings.roundTimeoutMs,
      config,
      ...(r.secure ? { secagg: r.secure.config } : {}),
    };
    r.start = start;
    // Durable before any client hears of the round: a crash from here on leaves it 'running',
    // and the next start-up marks it abandoned.
    // A database that is away (a PostgreSQL restart) or a fleet store fenced off by a newer
    // leader: the round is abandoned before any client hears of it, and the loop retries.
    let started = true;
    try {
      await this.unfinished.retry();
      await database?.rounds.start({ round, roundId, kind, modelVersion: model.version, cohort, startedAt: startedAt.toISOString() });
    } catch (err) {
      if (!isStoreFault(err)) throw err;
      started = false;
      secureError = err;
      // A connection lost at COMMIT may still have written the row: end it (if it exists) once
      // the database is back, so it never stays `running`.
      if (err.code === 'STORE_UNAVAILABLE') this.unfinished.keep(round, { status: 'abandoned', reporters: [], metrics: {}, reason: err.toEnvelope() });
      logger.warn({ round, code: err.code, err: err.message }, 'round not started: the database refused it');
    }
    if (started) logger.info({ round, kind, cohort: cohort.length, modelVersion: model.version }, 'round started');
    let secureResult: (AggregateResult & { survivors: string[] }) | undefined;
    // One SecAgg round over the whole cohort (a fleet sets its group's collector during send()).
    const flat = r.secure;
    if (!secureError) fleet.send(cohort, EVENTS.roundStart, start);
    if (secureError) {
      // Nothing to collect: the round cannot run securely.
    } else if (flat && r.secure) {
      try {
        secureResult = await r.secure.run(deadline);
        r.settleSecure(secureResult.survivors, secureResult.totalWeight);
      } catch (err) {
        secureError = err instanceof FlockError ? err : new FlockError('INTERNAL', (err as Error).message);
      }
      this.o.emit('secagg', r.secure.stages);
      // Shares that Reed-Solomon decoding found inconsistent: name who revealed them (the round
      // completed anyway if the decoding could correct them).
      for (const m of r.secure.misbehaviour) {
        logger.warn({ round, client: m.sender, owners: m.owners.length }, 'secure aggregation: inconsistent shares revealed');
        this.o.audit({ action: 'secagg.inconsistent-shares', actor: `client:${m.sender}`, requestId: roundId, outcome: 'refused', round, owners: m.owners, kinds: m.kinds });
      }
    } else {
      const cancel = clock.after(settings.roundTimeoutMs, r.finish);
      await r.finished;
      cancel();
    }
    r.collecting = false;
    if (r.endedEarly) logger.info({ kind, ...r.progress(), reason: r.endedEarly }, 'round ended before its deadline');
    this.o.dropUploads(roundId);
    logger.info({ round, kind, phase: 'aggregation', reporters: r.reporters.length }, 'round phase');
    if (settings.debugPhaseDelayMs > 0) await this.debugPause();
    if (r.secure) traffic.up += r.secure.bytesUp;

    const metrics = r.metrics();
    let outcome = decideOutcome(r, { closing: this.closed, secureError, minClients: settings.minClients });
    let version = model;
    if (outcome.status === 'committed') {
      try {
        version = await this.committer.commit(model, secureResult ?? r.aggregate(), ctx, r, metrics, this.o.fence);
      } catch (err) {
        // A fleet leader's commit refused (lease lost, Redis unreachable, fenced off by a newer
        // leader), or the database away (STORE_UNAVAILABLE: the server rolled the transaction
        // back): nothing was stored.
        if (!(err instanceof FlockError) || !(this.o.fence || isStoreFault(err))) throw err;
        outcome = { status: 'abandoned', reason: err.toEnvelope() };
      }
    }
    const reason: ErrorEnvelope | undefined = outcome.status === 'abandoned' ? outcome.reason : undefined;
    if (outcome.status === 'committed') {
      this.o.emit('commit', version);
      logger.info({ round, kind, phase: 'committed', modelVersion: version.version, modelHash: version.hash }, 'round phase');
      if (settings.debugPhaseDelayMs > 0) await this.debugPause();
    } else if (outcome.status === 'completed') {
      // Confidential rounds (DP): the clients' evaluation metrics stay with the operator.
      if (!strategy.confidentialRounds) store.annotate(model.version, metrics);
    }
    const status = outcome.status;
    if (status !== 'committed' && started) await this.unfinished.finish(round, { status, reporters: [...r.reporters].sort(), metrics, ...(reason ? { reason } : {}) });
    r.release();
    // A fleet node that lost the lease may already collect for the new leader (adopt()).
    if (this.activeRound === r) this.activeRound = undefined;
    this.endedRoundIds.add(roundId);
    if (this.endedRoundIds.size > 64) this.endedRoundIds.delete(this.endedRoundIds.values().next().value!);

    const summary = summarize(r, { status, version, reason, metrics, selected: cohort, startedAt, endedAt: clock.now(), bytesUp: traffic.up - traffic0.up, bytesDown: traffic.down - traffic0.down });
    this.history.push(summary);
    if (this.history.length > 10_000) this.history.shift();
    const receipt = status === 'committed' ? this.committer.receipt(summary, new Date(clock.now()).toISOString()) : undefined;
    if (started) fleet.send(cohort, EVENTS.roundEnd, roundEndOf(summary, receipt, strategy.confidentialRounds === true));
    logger.info({ round, kind, status, reporters: r.reporters.length, modelVersion: version.version, reason: reason?.code }, 'round ended');
    this.o.emit('round', summary);
    return summary;
  }
}

/**
 * Logs a collecting round's progress ("3/5 reported, 1 disconnected"), at most once a second
 * (a round of thousands of clients settles thousands of times), and always the last state.
 */
function progressLog(logger: Logger, clock: Clock): (p: RoundProgress) => void {
  let last = -Infinity;
  let pending: RoundProgress | undefined;
  let cancel: (() => void) | undefined;
  const write = (p: RoundProgress): void => {
    last = clock.now();
    logger.info({ ...p }, `round ${p.round}: ${p.reported}/${p.selected} reported, ${p.rejected} rejected or declined, ${p.disconnected} disconnected`);
  };
  return (p) => {
    if (clock.now() - last >= 1000) {
      cancel?.();
      cancel = undefined;
      write(p);
      return;
    }
    pending = p;
    cancel ??= clock.after(1000 - (clock.now() - last), () => {
      cancel = undefined;
      if (pending) write(pending);
      pending = undefined;
    });
  };
}
