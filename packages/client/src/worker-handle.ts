/**
 * `@flock/client/worker-handle`: the page's side of a FlockClient running in a Web Worker
 * (worker.ts). Light: no tfjs, no socket.io, no crypto on the page.
 *
 *     const worker = new Worker(new URL('./flock.worker.js', import.meta.url), { type: 'module' });
 *     const client = new FlockWorkerClient(worker, { url, data: { x: { shape, values }, y: { shape, values } } });
 *     client.on('round:report', (r) => console.log(r));
 *     await client.start();
 */
import { TypedEmitter } from './emitter.js';
import { EVENT_NAMES } from './events.js';
import type { FromWorker, ToWorker, WorkerClientEvents, WorkerClientOptions, WorkerError } from './worker-messages.js';

export type { WorkerClientOptions, WorkerClientEvents, WorkerError, TensorPayload } from './worker-messages.js';

/** The Worker, as far as the handle uses it (a DOM Worker, or anything with the same shape). */
export interface WorkerLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
  terminate?(): void;
}

/** An Error carrying the worker client's error code (FlockError's codes, docs/reference/errors.md). */
export class WorkerClientError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  constructor(e: WorkerError) {
    super(e.message);
    this.name = 'WorkerClientError';
    this.code = e.code;
    this.details = e.details;
  }
}

/** Drives a FlockClient in a Web Worker and re-emits its events on the page. */
export class FlockWorkerClient extends TypedEmitter<WorkerClientEvents> {
  private readonly worker: WorkerLike;
  private readonly options: WorkerClientOptions;
  private id: string | undefined;
  private pending: { resolve(v: never): void; reject(e: Error): void; kind: 'started' | 'stopped' } | undefined;

  constructor(worker: WorkerLike, options: WorkerClientOptions) {
    super(new Set(Object.keys(EVENT_NAMES) as (keyof WorkerClientEvents)[]));
    if (!worker || typeof worker.postMessage !== 'function') throw new TypeError('worker must be a Worker');
    if (!options || typeof options !== 'object') throw new TypeError('options must be an object');
    if (typeof options.url !== 'string' || !/^https?:\/\//.test(options.url)) throw new TypeError('options.url must be an http(s) URL');
    for (const k of ['x', 'y'] as const) {
      const t = options.data?.[k];
      if (!t || !Array.isArray(t.shape) || !(t.values instanceof Float32Array)) throw new TypeError(`options.data.${k} must be { shape: number[], values: Float32Array }`);
    }
    this.worker = worker;
    this.options = options;
    worker.addEventListener('message', (e) => this.onMessage(e.data as FromWorker));
  }

  /** The client id the worker's client connected with (after start()). */
  get clientId(): string | undefined {
    return this.id;
  }

  /**
   * Starts the client in the worker; resolves with the coordinator's welcome. The data's
   * buffers are transferred to the worker (they are detached on the page afterwards).
   */
  start(): Promise<WorkerClientEvents['welcome']> {
    const transfer = [this.options.data.x.values.buffer, this.options.data.y.values.buffer] as Transferable[];
    return this.request('started', { type: 'start', options: this.options }, transfer);
  }

  /** Stops the worker's client (disconnects after its round in progress). */
  stop(): Promise<void> {
    return this.request('stopped', { type: 'stop' }, []);
  }

  private request<T>(kind: 'started' | 'stopped', msg: ToWorker, transfer: Transferable[]): Promise<T> {
    if (this.pending) return Promise.reject(new Error(`a ${this.pending.kind === 'started' ? 'start' : 'stop'} is in progress`));
    return new Promise<T>((resolve, reject) => {
      this.pending = { resolve: resolve as (v: never) => void, reject, kind };
      this.worker.postMessage(msg, transfer);
    });
  }

  private onMessage(m: FromWorker): void {
    if (!m || typeof m !== 'object') return;
    if (m.type === 'event') {
      if (m.name in EVENT_NAMES) this.emit(m.name, m.payload as never);
      return;
    }
    const p = this.pending;
    if (m.type === 'started' && p?.kind === 'started') {
      this.pending = undefined;
      this.id = m.clientId;
      p.resolve(m.welcome as never);
    } else if (m.type === 'failed' && p?.kind === 'started') {
      this.pending = undefined;
      p.reject(new WorkerClientError(m.error));
    } else if (m.type === 'stopped' && p?.kind === 'stopped') {
      this.pending = undefined;
      p.resolve(undefined as never);
    }
  }
}
