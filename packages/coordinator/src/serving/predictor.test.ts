import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPresetModel, flatModelOf, selectBackend, type FlatModel } from '@flock/model';
import type { ModelVersion } from '../model-store.js';
import { Predictor } from './predictor.js';

// The inference worker's micro-batching, with a real worker thread and real tfjs: requests
// merged into one predict call each get their own rows back, in order, from their own model
// version, and nothing is left allocated in the worker afterwards.

const PER = 784;

function version(n: number, weights: Float32Array): ModelVersion {
  return { version: n, hash: `h${n}`, round: n, weights, metrics: {}, createdAt: new Date(0).toISOString() };
}

/** Rows no two requests share: request r, row k holds a pattern of its own. */
function rowsOf(r: number, rows: number): Float32Array {
  const x = new Float32Array(rows * PER);
  for (let i = 0; i < x.length; i++) x[i] = ((i * 7 + r * 131 + Math.floor(i / PER) * 17) % 255) / 255;
  return x;
}

/** Largest absolute difference (a batch's size can change the kernels' summation order a little). */
function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

let flat: FlatModel;
let predictor: Predictor;
let v0: ModelVersion;
let v1: ModelVersion;

beforeAll(async () => {
  await selectBackend('cpu');
  const model = createPresetModel('mlp', { seed: 3 });
  flat = await flatModelOf(model);
  model.dispose();
  v0 = version(0, flat.weights);
  // A second version with other weights, so a row answered by the wrong version shows.
  v1 = version(1, Float32Array.from(flat.weights, (w, i) => w + (i % 3) * 0.01));
  predictor = new Predictor({ topology: flat.topology, spec: flat.spec, backend: 'wasm', maxBatch: 64, batchWaitMs: 0 });
  await predictor.ready();
});

afterAll(async () => {
  await predictor?.close();
});

describe('micro-batching in the inference worker', () => {
  it('gives every request its own rows, in order, when concurrent requests share one predict call', async () => {
    const sizes = [3, 1, 5, 2, 4, 1, 6, 2, 3, 5, 1, 4, 2, 6, 3, 1];
    const target = (r: number): ModelVersion => (r % 5 === 4 ? v1 : v0);
    // The reference: each request alone, one after another (no merging).
    const alone = [];
    for (let r = 0; r < sizes.length; r++) alone.push(await predictor.predict(target(r), rowsOf(r, sizes[r]!), sizes[r]!));
    const before = { ...predictor.batches };
    expect(before.requests).toBe(before.count);

    const together = await Promise.all(sizes.map((n, r) => predictor.predict(target(r), rowsOf(r, n), n)));
    const merged = { count: predictor.batches.count - before.count, requests: predictor.batches.requests - before.requests };
    // Requests did share predict calls: fewer calls than requests, some with more rows than any one request.
    expect(merged.requests).toBe(sizes.length);
    expect(merged.count).toBeLessThan(sizes.length);
    expect(predictor.batches.largest).toBeGreaterThan(Math.max(...sizes));

    for (let r = 0; r < sizes.length; r++) {
      expect(together[r]!.shape).toEqual([sizes[r], 10]);
      expect(maxDiff(together[r]!.data, alone[r]!.data)).toBeLessThan(1e-5);
    }
    // Rows differ between requests and between versions by far more, so a mix-up could not pass.
    expect(maxDiff(alone[0]!.data.subarray(0, 10), alone[1]!.data.subarray(0, 10))).toBeGreaterThan(1e-3);
    const other = await predictor.predict(v1, rowsOf(0, 3), 3);
    expect(maxDiff(other.data, alone[0]!.data)).toBeGreaterThan(1e-3);
  });

  it('leaves no tensors behind in the worker: only the loaded models hold any', async () => {
    await predictor.predict(v0, rowsOf(0, 1), 1);
    await predictor.predict(v1, rowsOf(0, 1), 1);
    const loaded = await predictor.workerTensors();
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: 12 }, (_, r) => predictor.predict(r % 2 ? v1 : v0, rowsOf(r, 8), 8)));
    }
    expect(await predictor.workerTensors()).toBe(loaded);
  });
});
