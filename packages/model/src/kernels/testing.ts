import * as tf from '@tensorflow/tfjs';

/** Small seeded PRNG for test inputs (mulberry32). Not for anything privacy-related. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

export interface RunResult {
  outputs: Array<{ shape: number[]; values: Float32Array | Int32Array }>;
  /** Backend data buffers left behind (should be 0: no leaked intermediates). */
  leakedDataIds: number;
  leakedTensors: number;
}

/** Runs `fn` on the given backend and returns the outputs as plain arrays; disposes everything it made. */
export async function runOn(backend: 'cpu' | 'wasm', fn: () => tf.Tensor | tf.Tensor[]): Promise<RunResult> {
  await tf.setBackend(backend);
  const dataIds0 = tf.engine().backend.numDataIds();
  const tensors0 = tf.memory().numTensors;
  const outs = tf.tidy(fn);
  const list = Array.isArray(outs) ? outs : [outs];
  const outputs = list.map((t) => ({ shape: t.shape, values: t.dataSync() as Float32Array | Int32Array }));
  tf.dispose(list);
  return { outputs, leakedDataIds: tf.engine().backend.numDataIds() - dataIds0, leakedTensors: tf.memory().numTensors - tensors0 };
}

/** Largest violation of |a - b| <= atol + rtol * |b| (<= 0 means all within tolerance). */
export function maxViolation(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let worst = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (Number.isNaN(x) !== Number.isNaN(y)) return Number.POSITIVE_INFINITY;
    if (Number.isNaN(x)) continue;
    worst = Math.max(worst, Math.abs(x - y) - (atol + rtol * Math.abs(y)));
  }
  return a.length === 0 ? 0 : worst;
}
