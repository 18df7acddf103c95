import type { ModelSpec } from '@flock/protocol';

// Messages between the coordinator's main thread and its predict worker (predict-worker.ts).
// Both sides are this package's own code in one process, built together; the worker still
// refuses anything it does not recognise.

export interface PredictWorkerInit {
  /** Module URL of the worker entry (worker-bootstrap.mjs imports it from a checkout). */
  entry: string;
  backend: string;
  topology: Record<string, unknown>;
  spec: ModelSpec;
}

export type ToWorker =
  | { type: 'load'; id: number; version: number; weights: Float32Array }
  | { type: 'unload'; version: number }
  | { type: 'predict'; id: number; version: number; rows: number; data: Float32Array }
  | { type: 'evaluate'; id: number; version: number; rows: number; x: Float32Array; labels: Int32Array }
  | { type: 'stats'; id: number };

export type FromWorker =
  | { type: 'ready'; backend: string; inputShape: number[]; outputShape: number[] }
  | { type: 'loaded'; id: number }
  | { type: 'predicted'; id: number; data: Float32Array; shape: number[] }
  | { type: 'evaluated'; id: number; accuracy: number; loss: number }
  | { type: 'stats'; id: number; tensors: number }
  | { type: 'failed'; id: number; message: string }
  | { type: 'fatal'; message: string };
