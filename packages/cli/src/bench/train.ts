import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { version_wasm } from '@tensorflow/tfjs-backend-wasm';
import { createPresetModel, type ModelPreset } from '@flock/model';
import { FLOCK_WASM_KERNELS, registerFlockWasmKernels, unregisterFlockWasmKernels } from '@flock/model';
import { machineInfo } from './machine.js';

/**
 * `flock bench train`: local training throughput (samples/s) of the model presets on
 *   - `cpu`        tfjs's plain JS backend (the floor),
 *   - `wasm`       tfjs-backend-wasm as shipped (stock kernels; cannot train the CNN),
 *   - `wasm+flock` tfjs-backend-wasm with Flock's training kernels (what `--backend wasm` uses),
 *   - `tensorflow` native TensorFlow, only when @tensorflow/tfjs-node(-gpu) is installed.
 * All in one process and one run, so the ratios compare like with like. Inputs are random
 * [N,28,28,1] images with random one-hot labels (throughput does not depend on the data);
 * SGD, categorical cross-entropy, model.fit with the given batch size.
 */
export interface BenchTrainOptions {
  quick?: boolean;
  models?: ModelPreset[];
  batchSize?: number;
  /** Seconds of timed training per (model, backend) (default 8, quick 3). */
  seconds?: number;
}

type Backend = 'cpu' | 'wasm' | 'wasm+flock' | 'tensorflow';

interface Measurement {
  samplesPerSecond: number | null;
  samples: number;
  seconds: number;
  finalLoss: number | null;
  error?: string;
}

function randomData(n: number, seed: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  return tf.tidy(() => {
    const x = tf.randomNormal([n, 28, 28, 1], 0, 1, 'float32', seed) as tf.Tensor4D;
    const labels = tf.randomUniform([n], 0, 10, 'int32', seed + 1) as tf.Tensor1D;
    const y = tf.oneHot(labels, 10).toFloat() as tf.Tensor2D;
    return { x, y };
  });
}

async function measure(model: ModelPreset, batchSize: number, seconds: number, maxSteps?: number): Promise<Measurement> {
  const net = createPresetModel(model, { seed: 42 });
  net.compile({ optimizer: tf.train.sgd(0.01), loss: 'categoricalCrossentropy' });
  const data = randomData(batchSize * 4, 7);
  const batches = [0, 1, 2, 3].map((j) => ({ x: data.x.slice(j * batchSize, batchSize), y: data.y.slice(j * batchSize, batchSize) }));
  try {
    const step = async (i: number): Promise<number> => {
      const b = batches[i % batches.length]!;
      return (await net.trainOnBatch(b.x, b.y)) as number;
    };
    // Warm-up (JIT, XNNPACK operator creation); skipped when a single step is all the budget allows.
    if (maxSteps === undefined || maxSteps > 1) await step(0);
    let steps = 0;
    let loss = Number.NaN;
    const t0 = performance.now();
    let elapsed = 0;
    while (steps === 0 || (elapsed < seconds * 1000 && (maxSteps === undefined || steps < maxSteps))) {
      loss = await step(steps);
      steps++;
      elapsed = performance.now() - t0;
    }
    const secs = elapsed / 1000;
    return { samplesPerSecond: (steps * batchSize) / secs, samples: steps * batchSize, seconds: Math.round(secs * 1000) / 1000, finalLoss: loss };
  } catch (e) {
    return { samplesPerSecond: null, samples: 0, seconds: 0, finalLoss: null, error: (e as Error).message };
  } finally {
    tf.dispose([data.x, data.y, ...batches.flatMap((b) => [b.x, b.y])]);
    net.dispose();
  }
}

/** The native backend package, when one is installed (it registers the 'tensorflow' backend on import). */
async function loadNative(): Promise<string | undefined> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(/* @vite-ignore */ pkg);
      if (tf.findBackend('tensorflow') !== undefined || tf.engine().registryFactory.tensorflow !== undefined) return pkg;
    } catch {
      // not installed
    }
  }
  return undefined;
}

const round = (x: number | null, digits = 1): number | null => (x === null ? null : Math.round(x * 10 ** digits) / 10 ** digits);
const ratio = (a: number | null, b: number | null | undefined): number | null => (a === null || b === null || b === undefined || b === 0 ? null : Math.round((a / b) * 100) / 100);

export async function* benchTrain(opts: BenchTrainOptions = {}): AsyncGenerator<Record<string, unknown>> {
  const quick = opts.quick === true;
  const models: ModelPreset[] = opts.models ?? ['mlp', 'cnn'];
  const batchSize = opts.batchSize ?? 32;
  const seconds = opts.seconds ?? (quick ? 3 : 8);
  const machine = machineInfo();
  const cpuResults = new Map<ModelPreset, number | null>();
  const plainWasm = new Map<ModelPreset, number | null>();

  const native = await loadNative();
  const plan: Array<[Backend, ModelPreset]> = [];
  for (const backend of ['cpu', 'wasm', 'wasm+flock', ...(native !== undefined ? (['tensorflow'] as const) : [])] as const) {
    for (const m of models) plan.push([backend, m]);
  }

  for (const [backend, model] of plan) {
    if (backend === 'cpu' || backend === 'tensorflow') await tf.setBackend(backend);
    else {
      await tf.setBackend('wasm');
      if (backend === 'wasm') unregisterFlockWasmKernels();
      else registerFlockWasmKernels();
    }
    await tf.ready();
    let result: Measurement;
    if (backend === 'cpu' && model === 'cnn' && quick) {
      result = { samplesPerSecond: null, samples: 0, seconds: 0, finalLoss: null, error: 'skipped with --quick: the cpu backend takes about a minute per CNN batch of 32' };
    } else if (backend === 'cpu' && model === 'cnn') {
      // ~1 sample/s or less: a single timed batch is all we can afford.
      result = await measure(model, batchSize, 0, 1);
    } else {
      result = await measure(model, batchSize, seconds);
    }
    if (backend === 'cpu') cpuResults.set(model, result.samplesPerSecond);
    if (backend === 'wasm') plainWasm.set(model, result.samplesPerSecond);
    yield {
      model,
      backend,
      ...(backend === 'tensorflow' ? { provider: native } : {}),
      kernels: backend === 'wasm+flock' ? [...FLOCK_WASM_KERNELS] : [],
      batchSize,
      samplesPerSecond: round(result.samplesPerSecond),
      samples: result.samples,
      seconds: result.seconds,
      finalLoss: round(result.finalLoss, 4),
      ...(result.error !== undefined ? { error: result.error } : {}),
      baseline: { backend: 'cpu', samplesPerSecond: round(cpuResults.get(model) ?? null) },
      ratioVsCpu: ratio(result.samplesPerSecond, cpuResults.get(model)),
      ratioVsPlainWasm: backend === 'cpu' ? null : ratio(result.samplesPerSecond, plainWasm.get(model)),
      tfjsVersion: tf.version.tfjs,
      tfjsWasmVersion: version_wasm,
      wasmThreads: false,
      loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
      machine,
    };
  }
  // Leave the process the way `--backend wasm` would have it.
  registerFlockWasmKernels();
}
