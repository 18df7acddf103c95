import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, setFlatWeights, type BackendPreference } from '@flock/model';
import type { FromWorker, PredictWorkerInit, ToWorker } from './protocol.js';

// The coordinator's inference thread: holds one tf.LayersModel per loaded model version and
// runs the micro-batches the main thread (predictor.ts) sends, so inference never blocks the
// event loop that runs rounds.

const port = parentPort!;
const init = workerData as PredictWorkerInit;
const models = new Map<number, tf.LayersModel>();

/** Most rows in one forward pass (the default maxBatch). */
const PASS_ROWS = 256;

function post(m: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

function shapeOf(t: tf.SymbolicTensor): number[] {
  return t.shape.slice(1).map((d) => d ?? 0);
}

async function build(): Promise<tf.LayersModel> {
  return await tf.models.modelFromJSON({ modelTopology: init.topology } as unknown as tf.io.ModelJSON);
}

async function handle(m: ToWorker): Promise<void> {
  if (m.type === 'load') {
    if (!models.has(m.version)) {
      const model = await build();
      setFlatWeights(model, m.weights);
      models.set(m.version, model);
    }
    post({ type: 'loaded', id: m.id });
  } else if (m.type === 'unload') {
    models.get(m.version)?.dispose();
    models.delete(m.version);
  } else if (m.type === 'predict') {
    const model = models.get(m.version);
    if (!model) throw new Error(`model version ${m.version} is not loaded`);
    const inShape = shapeOf(model.inputs[0]!);
    // One forward pass over a merged micro-batch of up to PASS_ROWS rows: model.predict's default
    // batchSize (32) would cut it into 32-row slices and concatenate them again, which took
    // 1.3-1.9x the time per row on wasm here. Larger batches (maxBatch > PASS_ROWS) still go in
    // slices, so activations stay bounded.
    const out = tf.tidy(() => model.predict(tf.tensor(m.data, [m.rows, ...inShape], 'float32'), { batchSize: PASS_ROWS }) as tf.Tensor);
    const data = (await out.data()) as Float32Array;
    const shape = out.shape;
    out.dispose();
    post({ type: 'predicted', id: m.id, data, shape }, [data.buffer as ArrayBuffer]);
  } else if (m.type === 'stats') {
    post({ type: 'stats', id: m.id, tensors: tf.memory().numTensors });
  } else if (m.type === 'evaluate') {
    const model = models.get(m.version);
    if (!model) throw new Error(`model version ${m.version} is not loaded`);
    const inShape = shapeOf(model.inputs[0]!);
    let correct = 0;
    let loss = 0;
    // Bounded batches: a large held-out set never needs one huge tensor.
    for (let start = 0; start < m.rows; start += 256) {
      const n = Math.min(256, m.rows - start);
      const per = inShape.reduce((a, b) => a * b, 1);
      const probs = tf.tidy(() => model.predict(tf.tensor(m.x.subarray(start * per, (start + n) * per), [n, ...inShape], 'float32')) as tf.Tensor);
      const p = (await probs.data()) as Float32Array;
      const classes = probs.shape[1] ?? 1;
      probs.dispose();
      for (let i = 0; i < n; i++) {
        const label = m.labels[start + i]!;
        let best = 0;
        for (let c = 1; c < classes; c++) if (p[i * classes + c]! > p[i * classes + best]!) best = c;
        if (best === label) correct++;
        loss -= Math.log(Math.max(p[i * classes + label] ?? 0, 1e-7));
      }
    }
    post({ type: 'evaluated', id: m.id, accuracy: m.rows ? correct / m.rows : 0, loss: m.rows ? loss / m.rows : 0 });
  } else {
    throw new Error(`unknown message ${(m as { type?: unknown }).type as string}`);
  }
}

async function main(): Promise<void> {
  const backend = await selectBackend(init.backend as BackendPreference);
  const probe = await build();
  const ready: FromWorker = { type: 'ready', backend: backend.name, inputShape: shapeOf(probe.inputs[0]!), outputShape: shapeOf(probe.outputs[0]!) };
  probe.dispose();
  // One message at a time, in order: a batch runs to completion before the next starts.
  let chain = Promise.resolve();
  port.on('message', (m: ToWorker) => {
    chain = chain.then(() =>
      handle(m).catch((err: unknown) => {
        post({ type: 'failed', id: (m as { id?: number }).id ?? -1, message: err instanceof Error ? err.message : String(err) });
      }),
    );
  });
  post(ready);
}

main().catch((err: unknown) => post({ type: 'fatal', message: err instanceof Error ? err.message : String(err) }));
