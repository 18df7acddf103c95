// The messages between a page and a FlockClient running in a Web Worker (worker.ts and
// worker-handle.ts). Everything here is structured-cloneable; type-only, no runtime code.
import type { FlockClientOptions } from './client.js';
import type { FlockClientEvents } from './events.js';

/** A tensor as plain data: shape and float32 values (the buffer is transferred, not copied). */
export interface TensorPayload {
  shape: number[];
  values: Float32Array;
}

/** FlockClientOptions that can cross into a worker: no functions, tensors as plain data. */
export interface WorkerClientOptions extends Omit<FlockClientOptions, 'data' | 'evalData' | 'model' | 'platform' | 'crypto' | 'faults' | 'socket' | 'identity'> {
  data: { x: TensorPayload; y: TensorPayload };
  evalData?: { x: TensorPayload; y: TensorPayload };
}

/** An error as it crosses the worker boundary (FlockError's code and message). */
export interface WorkerError {
  code: string;
  message: string;
  details?: Record<string, unknown> | undefined;
}

/** Event payloads as the main thread receives them: errors become WorkerError. */
export type WorkerClientEvents = {
  [K in keyof FlockClientEvents]: K extends 'error' ? WorkerError : K extends 'round:report' ? Omit<FlockClientEvents[K], 'error'> & { error?: WorkerError } : FlockClientEvents[K];
};

export type ToWorker = { type: 'start'; options: WorkerClientOptions } | { type: 'stop' };

export type FromWorker =
  | { type: 'event'; name: keyof WorkerClientEvents; payload: unknown }
  | { type: 'started'; clientId: string; welcome: FlockClientEvents['welcome'] }
  | { type: 'failed'; error: WorkerError }
  | { type: 'stopped' };
