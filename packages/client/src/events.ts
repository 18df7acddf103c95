// The events a FlockClient emits and their payloads: the SDK's typed surface for apps.
import type { FlockError, FederationDone, RoundEnd, RoundStart, Welcome } from '@flock/protocol';
import type { PrivacyReceipt } from '@flock/privacy';
import type { BackendInfo } from '@flock/model/core';

/** What the SDK reports to the app after it finished its part of a round. */
export interface RoundReport {
  round: number;
  roundId: string;
  kind: 'train' | 'evaluate';
  modelVersion: number;
  numExamples: number;
  metrics: Record<string, number>;
  /** Seconds spent: download, train and upload. */
  seconds: number;
  /** Where those seconds went (phases not reached stay 0). */
  phases: RoundPhases;
  accepted: boolean;
  error?: FlockError;
}

/** Seconds per phase of one round, as measured by the client. */
export interface RoundPhases {
  /** Fetching the global weights and checking their hash (0 when the version was cached). */
  download: number;
  /** Everything around the local computation: building or reusing the model, setting weights, compiling, shuffling. */
  prepare: number;
  /** Inside model.fit (train rounds, summed over epochs) or model.evaluate (evaluate rounds). */
  fit: number;
  /** Reading the trained weights, the delta, clipping, local noise and (plain uploads) encoding. */
  delta: number;
  /** Masking / sealing, upload and the coordinator's acknowledgements. */
  send: number;
}

/** Every event a FlockClient emits, with its payload (`client.on(name, (payload) => ...)`). */
export interface FlockClientEvents {
  /** The TensorFlow.js backend chosen in start(), before connecting (name, provider, backends that failed first). */
  backend: BackendInfo;
  welcome: Welcome;
  'round:start': RoundStart;
  'round:report': RoundReport;
  'round:end': RoundEnd;
  /**
   * The coordinator ran its configured training rounds and starts no more: the final model's
   * version, hash and path. A process that only exists to take part can `await client.stop()` and exit.
   */
  done: FederationDone;
  /** A privacy receipt for a round this client took part in, verified against the coordinator key. */
  receipt: { round: number; receipt: PrivacyReceipt };
  /** The training delta this client is about to send (masked, under secure aggregation), for audits and tests. */
  update: { round: number; delta: Float32Array; numExamples: number };
  error: FlockError;
  connect: undefined;
  disconnect: string;
}

/** The event names, checked at run time for callers without type checking (complete by construction). */
export const EVENT_NAMES: Record<keyof FlockClientEvents, true> = {
  welcome: true,
  'round:start': true,
  'round:report': true,
  'round:end': true,
  done: true,
  backend: true,
  receipt: true,
  update: true,
  error: true,
  connect: true,
  disconnect: true,
};
