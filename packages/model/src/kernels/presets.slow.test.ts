/**
 * The model presets' full gradients on wasm + Flock kernels equal the tfjs `cpu` backend's
 * (the FedAvg CNN at its real shapes: 28x28 'same' 5x5 convolutions, 2x2 max-pooling, dense 3136x512).
 * Slow because the cpu backend needs tens of seconds for one CNN gradient.
 * Tolerance per weight tensor: |wasm - cpu| <= 1e-4 * max|cpu| + 1e-3 * |cpu|.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { createPresetModel, type ModelPreset } from '../presets.js';
import { registerFlockWasmKernels } from './index.js';
import { maxViolation, randomArray } from './testing.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  registerFlockWasmKernels();
});

async function gradients(backend: 'cpu' | 'wasm', preset: ModelPreset, batch: number): Promise<Map<string, Float32Array>> {
  await tf.setBackend(backend);
  const model = createPresetModel(preset, { seed: 3 });
  const xv = randomArray(batch * 28 * 28, 61, 0, 1);
  const labels = Array.from({ length: batch }, (_, i) => (i * 7) % 10);
  const out = new Map<string, Float32Array>();
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const x = tf.tensor4d(xv, [batch, 28, 28, 1]);
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar);
    out.set('loss', value.dataSync() as Float32Array);
    for (const w of model.trainableWeights) out.set(w.originalName, grads[w.name]!.dataSync() as Float32Array);
  });
  expect(tf.memory().numTensors).toBe(before);
  model.dispose();
  return out;
}

describe('preset gradients: wasm + Flock kernels vs cpu', () => {
  it.each([
    ['cnn', 4],
    ['mlp', 16],
  ] as Array<[ModelPreset, number]>)('%s (batch %i)', async (preset, batch) => {
    const cpu = await gradients('cpu', preset, batch);
    const wasm = await gradients('wasm', preset, batch);
    expect([...wasm.keys()].sort()).toEqual([...cpu.keys()].sort());
    for (const [name, c] of cpu) {
      const w = wasm.get(name)!;
      const scale = c.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expect(maxViolation(w, c, 1e-4 * scale, 1e-3), name).toBeLessThanOrEqual(0);
    }
  });
});
