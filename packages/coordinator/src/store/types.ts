import type { ErrorEnvelope } from '@flock/protocol';
import type { FlatModel } from '@flock/model';
import type { ClientRegistry } from '../auth/registry.js';
import type { LedgerEntry } from '../strategies/differential-privacy.js';
import type { ModelStore, ModelVersion } from '../model-store.js';
import type { ServingEventLog } from '../serving/lifecycle.js';
import type { Strategy } from '../strategy.js';
import type { FederationRecord, RoundCommit } from './database.js';
import type { RoundRecord, RoundStatus } from './rounds.js';

/**
 * A value or a promise of it. The store interfaces below return Awaitable values: the SQLite
 * backend answers synchronously (better-sqlite3), the PostgreSQL backend with promises, and
 * every caller awaits. See docs/explanation/durability.md.
 */
export type Awaitable<T> = T | Promise<T>;

export function isPromiseLike<T>(v: Awaitable<T> | PromiseLike<T>): v is PromiseLike<T> {
  return typeof (v as { then?: unknown } | null | undefined)?.then === 'function';
}

/**
 * Runs a generator whose yields are store calls: synchronously while every yielded value is
 * a plain value (SQLite), switching to promises at the first promise (PostgreSQL). One piece
 * of logic (resume) thus serves the synchronous `new Coordinator()` and the async open.
 */
export function drive<T>(gen: Generator<unknown, T, unknown>): Awaitable<T> {
  let step = gen.next();
  while (!step.done) {
    const v = step.value;
    if (isPromiseLike(v)) {
      return (async () => {
        let input: unknown = await v;
        for (;;) {
          const s = gen.next(input);
          if (s.done) return s.value;
          input = await s.value;
        }
      })();
    }
    step = gen.next(v);
  }
  return step.value;
}

/** The round log (table `rounds`). */
export interface RoundLogStore {
  start(r: { round: number; roundId: string; kind: 'train' | 'evaluate'; modelVersion: number; cohort: readonly string[]; startedAt: string }): Awaitable<void>;
  finish(round: number, end: { status: Exclude<RoundStatus, 'running'>; committedVersion?: number; reporters?: readonly string[]; metrics?: Record<string, number>; reason?: ErrorEnvelope; endedAt?: string }): Awaitable<void>;
  abandonRunning(reason: ErrorEnvelope, at?: string): Awaitable<RoundRecord[]>;
  get(round: number): Awaitable<RoundRecord | undefined>;
  byId(roundId: string): Awaitable<RoundRecord | undefined>;
  recent(limit?: number): Awaitable<RoundRecord[]>;
  all(): Awaitable<RoundRecord[]>;
  lastRound(): Awaitable<number>;
  committedCount(): Awaitable<number>;
}

/** Strategy state and the privacy ledger (written by the commit transaction). */
export interface StrategyStateReader {
  load(): Awaitable<{ strategy: string; state: unknown; modelVersion: number; updatedAt: string } | undefined>;
  restore(strategy: Strategy): Awaitable<boolean>;
  ledger(): Awaitable<Array<{ clientId: string } & LedgerEntry>>;
}

/** Upload idempotency keys: one database round-trip per update (never per chunk). */
export interface UploadKeyStore {
  claim(roundId: string, clientId: string, at?: string): Awaitable<boolean>;
  has(roundId: string, clientId: string): Awaitable<boolean>;
  count(roundId: string): Awaitable<number>;
}

/** The model versions of a durable store: latest and retained versions answer from memory. */
export interface DurableModelStore extends ModelStore {
  history(): Awaitable<Array<{ version: number; round: number; hash: string; hasWeights: boolean }>>;
}

/** Held while a coordinator runs on a store: one coordinator per database. */
export interface StoreLock {
  release(): Awaitable<void>;
}

/**
 * A coordinator's durable state, whatever the backend: SQLite (FederationDatabase, the
 * single-node default) or PostgreSQL (PgFederationStore, fleets). One test suite runs against
 * both (store/*.test.ts).
 */
export interface FederationStore {
  readonly backend: 'sqlite' | 'postgres';
  /** Where the state lives, safe to log (a file path, or a URL without its password). */
  readonly location: string;
  readonly rounds: RoundLogStore;
  readonly state: StrategyStateReader;
  readonly uploads: UploadKeyStore;
  readonly registry: ClientRegistry;
  /** The serving version's audited changes. */
  readonly serving: ServingEventLog;
  federation(): Awaitable<FederationRecord | undefined>;
  /** A fresh store is initialised with the federation row and `init.model` as version 0, in one transaction. */
  openModels(init: { federationId: string; config: Record<string, unknown>; model: FlatModel; keepVersions?: number }): Awaitable<{ store: DurableModelStore; created: boolean }>;
  storedModel(): Awaitable<(FlatModel & { version: number; hash: string }) | undefined>;
  /** The model store (after openModels). */
  readonly models: DurableModelStore;
  /**
   * Commits a training round atomically (model version, round row, strategy state, privacy
   * ledger). Throws STORE_CONFLICT, writing nothing, if the round is no longer running.
   */
  commitRound(c: RoundCommit): Awaitable<ModelVersion>;
  /**
   * Takes the one-coordinator lock; throws STORE_LOCKED when another coordinator holds it.
   * `'fleet'`: a node of a fleet sharing this store (PostgreSQL: every node holds the lock in
   * shared mode; a single coordinator is refused while they run). SQLite ignores the mode: each
   * fleet node has its own file.
   */
  lock(mode?: 'exclusive' | 'fleet'): Awaitable<StoreLock | undefined>;
  readonly isOpen: boolean;
  close(): Awaitable<void>;
}
