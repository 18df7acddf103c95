import type { FlatModel } from '@flock/model';
import { FlockError } from '@flock/protocol';
import type { Logger } from '../logger.js';
import type { ModelStore } from '../model-store.js';
import type { CoordinatorSettings } from '../options.js';
import type { RoundSummary } from '../round/commit.js';
import type { Strategy } from '../strategy.js';
import type { FederationRecord } from './database.js';
import type { RoundRecord } from './rounds.js';
import { drive, type Awaitable, type DurableModelStore, type FederationStore } from './types.js';

/** Where a coordinator starts from: the model store and the round counters and history it resumes. */
export interface Resumed {
  store: ModelStore;
  /** The last round number used (every round, of any kind and outcome). */
  roundCounter: number;
  trainRoundsCommitted: number;
  /** The most recent rounds of the durable log, oldest first. */
  history: RoundSummary[];
}

/** A round from the durable log as a history entry (traffic and rejections are not persisted). */
export function summaryOf(rec: RoundRecord, hashes: ReadonlyMap<number, string>): RoundSummary {
  const version = rec.committedVersion ?? rec.modelVersion;
  const end = rec.endedAt ?? rec.startedAt;
  return {
    round: rec.round,
    roundId: rec.roundId,
    kind: rec.kind,
    status: rec.status === 'running' ? 'abandoned' : rec.status,
    modelVersion: version,
    modelHash: hashes.get(version) ?? '',
    selected: rec.cohort,
    reporters: rec.reporters ?? [],
    rejected: [],
    numExamples: 0,
    metrics: rec.metrics ?? {},
    bytesUp: 0,
    bytesDown: 0,
    ...(rec.reason ? { reason: rec.reason } : {}),
    startedAt: rec.startedAt,
    seconds: (Date.parse(end) - Date.parse(rec.startedAt)) / 1000,
  };
}

/**
 * Opens the durable model store and resumes from it. A fresh database is initialised with
 * `model` as version 0. An existing one supplies the latest committed model, the round
 * counter, the committed-round count and the strategy state (optimizer moments, DP ledger).
 *
 * Crash-resume policy: a round found `running` was cut off by a crash and is marked
 * `abandoned` (ROUND_ABANDONED, details.reason 'coordinator-restarted'); the loop then runs a
 * fresh round on the same model version. It cannot be completed instead: its aggregate lived
 * only in memory and its cohort's sessions (and, under secure aggregation, the key material)
 * are gone, and rebuilding it would mean persisting individual updates, which Flock never
 * does. Google's production FL system makes the same choice (Bonawitz et al., "Towards
 * Federated Learning at Scale", SysML 2019): a failed round is simply restarted.
 *
 * `abandonRunning: false` (fleet nodes on one shared database): running rounds are left alone.
 *
 * The same steps for both backends: synchronous on SQLite (so `new Coordinator()` can
 * resume), a promise on PostgreSQL (`Coordinator.open()`).
 */
export function resumeFromDatabase(db: FederationStore, model: FlatModel, settings: CoordinatorSettings, strategy: Strategy, logger: Logger, o: { abandonRunning?: boolean } = {}): Awaitable<Resumed> {
  return drive(resumeSteps(db, model, settings, strategy, logger, o.abandonRunning ?? true));
}

function* resumeSteps(db: FederationStore, model: FlatModel, settings: CoordinatorSettings, strategy: Strategy, logger: Logger, abandonRunning: boolean): Generator<unknown, Resumed, unknown> {
  const database = db.location;
  const { store, created } = (yield db.openModels({ federationId: settings.federationId, config: { ...settings }, model, keepVersions: settings.keepVersions })) as { store: DurableModelStore; created: boolean };
  const fed = (yield db.federation()) as FederationRecord;
  if (created) {
    logger.info({ database, modelVersion: 0, modelHash: store.latest().hash }, 'new database: the initial model is version 0');
    return { store, roundCounter: 0, trainRoundsCommitted: 0, history: [] };
  }
  if (fed.federationId !== settings.federationId) {
    logger.warn({ database, stored: fed.federationId, configured: settings.federationId }, 'the database was created for another federation id');
  }
  if (JSON.stringify(fed.spec) !== JSON.stringify(model.spec)) {
    logger.warn({ database }, 'the given initial model differs from the database model; the database model is used');
  }
  const restored = (yield db.state.restore(strategy)) as boolean;
  const reason = new FlockError('ROUND_ABANDONED', 'the coordinator restarted while the round was running', { reason: 'coordinator-restarted' }).toEnvelope();
  // A fleet node joining a shared database leaves running rounds to the leader (it abandons an
  // earlier leader's when it takes over: fleet/shared-store.ts).
  for (const a of abandonRunning ? ((yield db.rounds.abandonRunning(reason)) as RoundRecord[]) : []) {
    logger.warn({ round: a.round, roundId: a.roundId, kind: a.kind, modelVersion: a.modelVersion, reason: reason.code, details: reason.details }, 'round abandoned: the coordinator restarted while it was running; a fresh round will run');
  }
  const roundCounter = (yield db.rounds.lastRound()) as number;
  const trainRoundsCommitted = (yield db.rounds.committedCount()) as number;
  const versions = (yield store.history()) as Array<{ version: number; hash: string }>;
  const hashes = new Map(versions.map((v) => [v.version, v.hash]));
  const history = ((yield db.rounds.recent(100)) as RoundRecord[]).map((rec) => summaryOf(rec, hashes));
  const latest = store.latest();
  logger.info(
    { database, modelVersion: latest.version, modelHash: latest.hash, round: roundCounter, trainRoundsCommitted, strategyStateRestored: restored },
    'resumed from database: the model comes from the database',
  );
  return { store, roundCounter, trainRoundsCommitted, history };
}
