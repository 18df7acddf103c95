/**
 * Every common Keras layer trains on the wasm backend with Flock's kernels: a tiny model,
 * a fixed batch, a few SGD steps; the loss stays finite and goes down, and neither the
 * engine's tensor count nor the wasm backend's buffer count grows across steps.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerFlockWasmKernels } from './index.js';
import { randomArray } from './testing.js';

const L = tf.layers;
const init = (seed: number) => tf.initializers.glorotUniform({ seed });

interface Case {
  name: string;
  build: () => tf.LayersModel;
  input: number[];
  /** integer inputs in [0, vocab) (Embedding) */
  vocab?: number;
  lr?: number;
}

const img = [6, 6, 2];
const head = (seed: number) => [L.flatten(), L.dense({ units: 3, kernelInitializer: init(seed) })];

const cases: Case[] = [
  { name: 'Conv1D', input: [10, 3], build: () => tf.sequential({ layers: [L.conv1d({ inputShape: [10, 3], filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(1) }), ...head(2)] }) },
  { name: 'Conv2D', input: img, build: () => tf.sequential({ layers: [L.conv2d({ inputShape: img, filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(1) }), ...head(2)] }) },
  { name: 'DepthwiseConv2D', input: img, build: () => tf.sequential({ layers: [L.depthwiseConv2d({ inputShape: img, kernelSize: 3, depthMultiplier: 2, padding: 'same', depthwiseInitializer: init(1) }), ...head(2)] }) },
  { name: 'SeparableConv2D', input: img, build: () => tf.sequential({ layers: [L.separableConv2d({ inputShape: img, filters: 4, kernelSize: 3, depthwiseInitializer: init(1), pointwiseInitializer: init(3) }), ...head(2)] }) },
  { name: 'Conv2DTranspose', input: [3, 3, 2], build: () => tf.sequential({ layers: [L.conv2dTranspose({ inputShape: [3, 3, 2], filters: 3, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: init(1) }), ...head(2)] }) },
  { name: 'MaxPooling2D', input: img, build: () => tf.sequential({ layers: [L.conv2d({ inputShape: img, filters: 3, kernelSize: 3, padding: 'same', kernelInitializer: init(1) }), L.maxPooling2d({ poolSize: 2 }), ...head(2)] }) },
  { name: 'AveragePooling2D', input: img, build: () => tf.sequential({ layers: [L.conv2d({ inputShape: img, filters: 3, kernelSize: 3, padding: 'same', kernelInitializer: init(1) }), L.averagePooling2d({ poolSize: 2 }), ...head(2)] }) },
  { name: 'Dense', input: [8], build: () => tf.sequential({ layers: [L.dense({ inputShape: [8], units: 16, activation: 'relu', kernelInitializer: init(1) }), L.dense({ units: 3, kernelInitializer: init(2) })] }) },
  { name: 'BatchNormalization', input: [8], build: () => tf.sequential({ layers: [L.dense({ inputShape: [8], units: 16, kernelInitializer: init(1) }), L.batchNormalization(), L.dense({ units: 3, kernelInitializer: init(2) })] }) },
  { name: 'BatchNormalization (conv)', input: img, build: () => tf.sequential({ layers: [L.conv2d({ inputShape: img, filters: 3, kernelSize: 3, kernelInitializer: init(1) }), L.batchNormalization(), ...head(2)] }) },
  { name: 'Dropout', input: [8], build: () => tf.sequential({ layers: [L.dense({ inputShape: [8], units: 32, activation: 'relu', kernelInitializer: init(1) }), L.dropout({ rate: 0.2, seed: 7 }), L.dense({ units: 3, kernelInitializer: init(2) })] }) },
  { name: 'Embedding', input: [5], vocab: 12, lr: 0.5, build: () => tf.sequential({ layers: [L.embedding({ inputDim: 12, outputDim: 4, inputLength: 5, embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: 1 }) }), ...head(2)] }) },
  { name: 'LSTM', input: [5, 3], build: () => tf.sequential({ layers: [L.lstm({ inputShape: [5, 3], units: 6, kernelInitializer: init(1), recurrentInitializer: init(3) }), L.dense({ units: 3, kernelInitializer: init(2) })] }) },
  { name: 'GRU', input: [5, 3], build: () => tf.sequential({ layers: [L.gru({ inputShape: [5, 3], units: 6, kernelInitializer: init(1), recurrentInitializer: init(3) }), L.dense({ units: 3, kernelInitializer: init(2) })] }) },
];

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  registerFlockWasmKernels();
});

describe('layers train on wasm with Flock kernels', () => {
  it.each(cases)('$name', async (c) => {
    await tf.setBackend('wasm');
    const batch = 8;
    const model = c.build();
    model.compile({ optimizer: tf.train.sgd(c.lr ?? 0.05), loss: 'meanSquaredError' });
    const n = batch * c.input.reduce((a, b) => a * b, 1);
    const x =
      c.vocab !== undefined
        ? tf.tensor(Array.from(randomArray(n, 101, 0, c.vocab), Math.floor), [batch, ...c.input], 'int32')
        : tf.tensor(randomArray(n, 101), [batch, ...c.input]);
    const y = tf.tensor2d(randomArray(batch * 3, 102), [batch, 3]);
    const losses: number[] = [];
    const counts: Array<[number, number]> = [];
    for (let step = 0; step < 8; step++) {
      const loss = (await model.trainOnBatch(x, y)) as number;
      losses.push(loss);
      counts.push([tf.memory().numTensors, tf.engine().backend.numDataIds()]);
    }
    for (const l of losses) expect(Number.isFinite(l)).toBe(true);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]!);
    // The first step creates the optimizer's state; after that nothing may accumulate.
    for (const cnt of counts.slice(2)) expect(cnt).toEqual(counts[1]);
    tf.dispose([x, y]);
    model.dispose();
  });
});
