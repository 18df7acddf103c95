import { Worker } from 'node:worker_threads';
import { FlockError, type ModelSpec } from '@flock/protocol';
import type { ModelVersion } from '../model-store.js';
import type { FromWorker, PredictWorkerInit, ToWorker } from './protocol.js';

export interface PredictorOptions {
  topology: Record<string, unknown>;
  spec: ModelSpec;
  /** tfjs backend of the worker (`auto`: the fastest installed). */
  backend: string;
  /** Most rows one micro-batch carries. */
  maxBatch: number;
  /**
   * How long a request may wait for others to join its micro-batch when the worker is idle, ms.
   * 0: an idle worker starts at once; requests that arrive while it is busy still share the
   * next batch, so the wait is bounded by one batch's run time.
   */
  batchWaitMs: number;
  /** Model versions kept loaded in the worker (least recently used ones are unloaded). */
  maxLoaded?: number;
}

export interface Prediction {
  /** Row-major outputs of this request's rows. */
  data: Float32Array;
  /** [rows, ...outputShape]. */
  shape: number[];
}

/**
 * Batches handed to the worker at once: while it runs one, the next waits in its message
 * queue, so it never idles for the round trip through the main thread; later requests keep
 * merging in the main thread's queue.
 */
const PIPELINE = 2;

interface Pending {
  version: number;
  rows: number;
  data: Float32Array;
  resolve(p: Prediction): void;
  reject(e: Error): void;
}

/** True when `a` spans the whole of its own (transferable) ArrayBuffer. */
function owns(a: Float32Array): boolean {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && !(a.buffer instanceof SharedArrayBuffer);
}

interface Call {
  resolve(m: FromWorker): void;
  reject(e: Error): void;
}

/**
 * Server-side inference: one worker thread holding the model versions in use, fed by a queue
 * that merges concurrent requests into micro-batches. Every method is safe to call before the
 * worker is up (it starts on first use).
 */
export class Predictor {
  private worker: Worker | undefined;
  private starting: Promise<FromWorker & { type: 'ready' }> | undefined;
  private readonly calls = new Map<number, Call>();
  private nextId = 1;
  private readonly loaded = new Map<number, Promise<void>>();
  private readonly queue: Pending[] = [];
  /** Batches posted to the worker and not answered yet (at most PIPELINE). */
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Micro-batches run so far: how many, their rows in all, the largest (a merged batch carries several requests). */
  readonly batches = { count: 0, requests: 0, rows: 0, largest: 0 };
  /** Filled once the worker is ready. */
  info: { backend: string; inputShape: number[]; outputShape: number[] } | undefined;

  constructor(private readonly o: PredictorOptions) {}

  /** Starts the worker (idempotent); resolves with its backend and the model's input/output shapes. */
  async ready(): Promise<{ backend: string; inputShape: number[]; outputShape: number[] }> {
    if (this.closed) throw new FlockError('INTERNAL', 'the predictor is closed');
    this.starting ??= new Promise((resolve, reject) => {
      const fromSource = import.meta.url.endsWith('.ts');
      const entry = new URL(fromSource ? './predict-worker.ts' : './predict-worker.js', import.meta.url).href;
      const script = fromSource ? new URL('./worker-bootstrap.mjs', import.meta.url) : new URL(entry);
      const init: PredictWorkerInit = { entry, backend: this.o.backend, topology: this.o.topology, spec: this.o.spec };
      const w = new Worker(script, { workerData: init });
      this.worker = w;
      w.unref();
      w.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          this.info = { backend: m.backend, inputShape: m.inputShape, outputShape: m.outputShape };
          resolve(m);
        } else if (m.type === 'fatal') reject(new FlockError('INTERNAL', `predict worker failed to start: ${m.message}`));
        else {
          const call = this.calls.get(m.id);
          this.calls.delete(m.id);
          if (m.type === 'failed') call?.reject(new FlockError('INTERNAL', `inference failed: ${m.message}`));
          else call?.resolve(m);
        }
      });
      const died = (why: string) => {
        const e = new FlockError('INTERNAL', `predict worker ${why}`);
        reject(e);
        for (const c of this.calls.values()) c.reject(e);
        this.calls.clear();
        for (const p of this.queue.splice(0)) p.reject(e);
        // The next request starts a new worker.
        this.worker = undefined;
        this.starting = undefined;
        this.loaded.clear();
        this.inFlight = 0;
      };
      w.once('error', (err) => died(`crashed: ${err.message}`));
      w.once('exit', (code) => died(`exited with code ${code}`));
    });
    const r = await this.starting;
    return { backend: r.backend, inputShape: r.inputShape, outputShape: r.outputShape };
  }

  private call(m: ToWorker, transfer: ArrayBuffer[] = []): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      this.calls.set((m as { id: number }).id, { resolve, reject });
      this.worker!.postMessage(m, transfer);
    });
  }

  /** Loads a model version into the worker once; the least recently used beyond maxLoaded are unloaded. */
  async load(v: ModelVersion): Promise<void> {
    await this.ready();
    let p = this.loaded.get(v.version);
    if (p) {
      // Most recently used last.
      this.loaded.delete(v.version);
      this.loaded.set(v.version, p);
      return p;
    }
    p = this.call({ type: 'load', id: this.nextId++, version: v.version, weights: v.weights.slice() }).then(() => undefined);
    this.loaded.set(v.version, p);
    p.catch(() => this.loaded.delete(v.version));
    const max = this.o.maxLoaded ?? 4;
    while (this.loaded.size > max) {
      const oldest = this.loaded.keys().next().value!;
      this.loaded.delete(oldest);
      this.worker?.postMessage({ type: 'unload', version: oldest } satisfies ToWorker);
    }
    return p;
  }

  /** Runs `rows` inputs (row-major float32, already validated) through model version `v`. */
  async predict(v: ModelVersion, data: Float32Array, rows: number): Promise<Prediction> {
    await this.load(v);
    return new Promise((resolve, reject) => {
      this.queue.push({ version: v.version, rows, data, resolve, reject });
      this.pump();
    });
  }

  /** Accuracy and cross-entropy of model version `v` on a labelled set (server-side evaluation). */
  async evaluate(v: ModelVersion, x: Float32Array, labels: Int32Array): Promise<{ accuracy: number; loss: number }> {
    await this.load(v);
    const m = (await this.call({ type: 'evaluate', id: this.nextId++, version: v.version, rows: labels.length, x, labels })) as FromWorker & { type: 'evaluated' };
    return { accuracy: m.accuracy, loss: m.loss };
  }

  /** Tensors the worker holds (its tf.memory().numTensors): the loaded models' weights and nothing per request. */
  async workerTensors(): Promise<number> {
    await this.ready();
    const m = (await this.call({ type: 'stats', id: this.nextId++ })) as FromWorker & { type: 'stats' };
    return m.tensors;
  }

  /** Rows waiting for the worker. */
  get queued(): number {
    return this.queue.reduce((a, p) => a + p.rows, 0);
  }

  private pump(): void {
    if (this.inFlight >= PIPELINE || this.queue.length === 0 || !this.worker) return;
    if (this.o.batchWaitMs > 0 && this.inFlight === 0 && this.queued < this.o.maxBatch) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.dispatch();
      }, this.o.batchWaitMs);
      return;
    }
    this.dispatch();
  }

  private dispatch(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.inFlight >= PIPELINE || this.queue.length === 0 || !this.worker) return;
    // Consecutive requests for the head's version, up to maxBatch rows (a larger single request runs alone).
    const version = this.queue[0]!.version;
    const batch: Pending[] = [this.queue.shift()!];
    let rows = batch[0]!.rows;
    while (this.queue.length > 0 && this.queue[0]!.version === version && rows + this.queue[0]!.rows <= this.o.maxBatch) {
      const next = this.queue.shift()!;
      batch.push(next);
      rows += next.rows;
    }
    let data: Float32Array;
    // One request's own buffer is transferred to the worker as it is; a view into a larger or
    // shared buffer is copied first (posting a view would clone its whole buffer).
    if (batch.length === 1) data = owns(batch[0]!.data) ? batch[0]!.data : batch[0]!.data.slice();
    else {
      data = new Float32Array(batch.reduce((a, p) => a + p.data.length, 0));
      let off = 0;
      for (const p of batch) {
        data.set(p.data, off);
        off += p.data.length;
      }
    }
    this.inFlight++;
    this.batches.count++;
    this.batches.requests += batch.length;
    this.batches.rows += rows;
    this.batches.largest = Math.max(this.batches.largest, rows);
    this.call({ type: 'predict', id: this.nextId++, version, rows, data }, [data.buffer as ArrayBuffer])
      .then((m) => {
        const r = m as FromWorker & { type: 'predicted' };
        const perRow = rows > 0 ? r.data.length / rows : 0;
        const tail = r.shape.slice(1);
        let off = 0;
        for (const p of batch) {
          // Views, not copies: the worker's output buffer was transferred to this thread.
          p.resolve({ data: r.data.subarray(off * perRow, (off + p.rows) * perRow), shape: [p.rows, ...tail] });
          off += p.rows;
        }
      })
      .catch((e: Error) => {
        for (const p of batch) p.reject(e);
      })
      .finally(() => {
        this.inFlight = Math.max(0, this.inFlight - 1);
        this.pump();
      });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
