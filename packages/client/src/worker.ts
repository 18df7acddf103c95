/**
 * `@flock/client/worker`: runs a FlockClient inside a Web Worker, so training never competes
 * with the page for its main thread and is not throttled with a background tab's timers. In
 * the worker script:
 *
 *     import { serveFlockWorker } from '@flock/client/worker';
 *     serveFlockWorker();
 *
 * and on the page, FlockWorkerClient from '@flock/client/worker-handle' (no tfjs on the page).
 * The worker holds the connection, the model, the identity (IndexedDB works in workers) and
 * the data the page handed over.
 */
import * as tf from '@tensorflow/tfjs';
import { ready, selectBackend } from '@flock/model/core';
import { FlockClient } from './client.js';
import { EVENT_NAMES, type FlockClientEvents } from './events.js';
import type { FromWorker, TensorPayload, ToWorker, WorkerError } from './worker-messages.js';

export type { WorkerClientOptions, WorkerClientEvents, WorkerError, TensorPayload, ToWorker, FromWorker } from './worker-messages.js';

/** The worker global scope, as far as this module uses it. */
export interface WorkerScopeLike {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (e: { data: unknown }) => void): void;
}

function toWorkerError(err: unknown): WorkerError {
  const e = err as { code?: unknown; message?: unknown; details?: unknown };
  return {
    code: typeof e?.code === 'string' ? e.code : 'INTERNAL',
    message: typeof e?.message === 'string' ? e.message : String(err),
    ...(e?.details && typeof e.details === 'object' ? { details: JSON.parse(JSON.stringify(e.details)) as Record<string, unknown> } : {}),
  };
}

function tensor(p: TensorPayload, what: string): tf.Tensor {
  if (!p || !Array.isArray(p.shape) || !(p.values instanceof Float32Array)) throw new TypeError(`${what} must be { shape: number[], values: Float32Array }`);
  return tf.tensor(p.values, p.shape, 'float32');
}

/** Answers a FlockWorkerClient's messages in this worker: one FlockClient per start. */
export function serveFlockWorker(scope: WorkerScopeLike = globalThis as unknown as WorkerScopeLike): void {
  let client: FlockClient | undefined;
  const post = (m: FromWorker): void => scope.postMessage(m);
  scope.addEventListener('message', (e) => {
    const msg = e.data as ToWorker;
    if (msg?.type === 'start') {
      if (client) return post({ type: 'failed', error: { code: 'INTERNAL', message: 'this worker already runs a client' } });
      void (async () => {
        try {
          const { data, evalData, ...rest } = msg.options;
          // The backend first (the options' backend and wasmPaths), then the data as tensors on it.
          const backendOptions = rest.wasmPaths !== undefined ? { wasmPaths: rest.wasmPaths } : {};
          if ((rest.backend ?? 'auto') === 'auto') await ready('auto', backendOptions);
          else await selectBackend(rest.backend!, backendOptions);
          const c = new FlockClient({
            ...rest,
            data: { x: tensor(data?.x, 'data.x'), y: tensor(data?.y, 'data.y') },
            ...(evalData ? { evalData: { x: tensor(evalData.x, 'evalData.x'), y: tensor(evalData.y, 'evalData.y') } } : {}),
          });
          client = c;
          for (const name of Object.keys(EVENT_NAMES) as (keyof FlockClientEvents)[]) {
            c.on(name, (payload: unknown) => {
              let out = payload;
              if (name === 'error') out = toWorkerError(payload);
              else if (name === 'round:report' && (payload as { error?: unknown }).error) out = { ...(payload as object), error: toWorkerError((payload as { error: unknown }).error) };
              post({ type: 'event', name, payload: out });
            });
          }
          const welcome = await c.start();
          post({ type: 'started', clientId: c.clientId, welcome });
        } catch (err) {
          client = undefined;
          post({ type: 'failed', error: toWorkerError(err) });
        }
      })();
    } else if (msg?.type === 'stop') {
      void (async () => {
        await client?.stop();
        client = undefined;
        post({ type: 'stopped' });
      })();
    }
  });
}
