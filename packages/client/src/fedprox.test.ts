import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFlatWeights, selectBackend, setFlatWeights } from '@flock/model';
import { fitProximal, PROXIMAL_LOSSES } from './fedprox.js';

const N = 22; // not a multiple of the batch size: the last batch is partial
const FEATURES = 4;
const CLASSES = 3;

/** Deterministic data (no Math.random): a sine hash of the index. */
function data(): { x: tf.Tensor2D; y: tf.Tensor2D; labels: tf.Tensor1D } {
  const xs = new Float32Array(N * FEATURES);
  for (let i = 0; i < xs.length; i++) xs[i] = Math.sin(i * 12.9898 + 78.233) * 2;
  const lab = new Int32Array(N);
  for (let i = 0; i < N; i++) lab[i] = (xs[i * FEATURES]! + xs[i * FEATURES + 1]! > 0 ? 1 : 0) + (xs[i * FEATURES + 2]! > 1 ? 1 : 0);
  return tf.tidy(() => ({ x: tf.tensor2d(xs, [N, FEATURES]), y: tf.oneHot(tf.tensor1d(lab, 'int32'), CLASSES) as tf.Tensor2D, labels: tf.tensor1d(lab, 'float32') }));
}

/** A small MLP with an L2 regularizer (so the regularizer path is covered too). */
function build(init?: Float32Array, units = CLASSES, activation: 'softmax' | 'sigmoid' = 'softmax'): tf.LayersModel {
  const m = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [FEATURES], units: 6, activation: 'tanh', kernelRegularizer: tf.regularizers.l2({ l2: 0.01 }) }),
      tf.layers.dense({ units, activation }),
    ],
  });
  if (init) setFlatWeights(m, init);
  return m;
}

function distance(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

function expectAllClose(a: Float32Array, b: Float32Array, tol: number): void {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  expect(worst).toBeLessThanOrEqual(tol);
}

describe.each(['wasm', 'cpu'] as const)('fitProximal on the %s backend', (backend) => {
  let d: ReturnType<typeof data>;
  let init: Float32Array;

  beforeAll(async () => {
    await selectBackend(backend);
    d = data();
    const m = build();
    init = getFlatWeights(m);
    m.dispose();
  });
  afterAll(() => {
    tf.dispose([d.x, d.y, d.labels]);
  });

  it('with mu = 0 follows model.fit step for step (loss trajectory and weights within 1e-5)', async () => {
    const ref = build(init);
    ref.compile({ optimizer: tf.train.sgd(0.2), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const h = await ref.fit(d.x, d.y, { epochs: 4, batchSize: 5, shuffle: false, verbose: 0 });
    const refLoss = h.history.loss as number[];
    const refAcc = (h.history.acc ?? h.history.accuracy) as number[];

    const m = build(init);
    const opt = tf.train.sgd(0.2);
    const losses: number[] = [];
    const accs: number[] = [];
    for (let e = 0; e < 4; e++) {
      const r = await fitProximal(m, d.x, d.y, { epochs: 1, batchSize: 5, mu: 0, global: init, optimizer: opt, loss: 'categoricalCrossentropy' });
      losses.push(r.loss);
      accs.push(r.accuracy);
    }
    losses.forEach((l, i) => expect(Math.abs(l - refLoss[i]!)).toBeLessThanOrEqual(1e-5));
    accs.forEach((a, i) => expect(Math.abs(a - refAcc[i]!)).toBeLessThanOrEqual(1e-5));
    expect(refLoss[3]!).toBeLessThan(refLoss[0]!); // it does learn
    expectAllClose(getFlatWeights(m), getFlatWeights(ref), 1e-5);
    ref.dispose();
    m.dispose();
    opt.dispose();
  });

  it('with mu = 0 and a momentum optimizer over several epochs in one call matches model.fit', async () => {
    const ref = build(init);
    ref.compile({ optimizer: tf.train.momentum(0.1, 0.9), loss: 'categoricalCrossentropy' });
    const h = await ref.fit(d.x, d.y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
    const m = build(init);
    const opt = tf.train.momentum(0.1, 0.9);
    const r = await fitProximal(m, d.x, d.y, { epochs: 3, batchSize: 8, mu: 0, global: init, optimizer: opt, loss: 'categoricalCrossentropy' });
    expect(Math.abs(r.loss - (h.history.loss as number[])[2]!)).toBeLessThanOrEqual(1e-5);
    expectAllClose(getFlatWeights(m), getFlatWeights(ref), 1e-5);
    ref.dispose();
    m.dispose();
    opt.dispose();
  });

  it('visits the examples in seedOrder (same as model.fit on the reordered data)', async () => {
    const order = Int32Array.from({ length: 15 }, (_, i) => (i * 7 + 3) % N); // a subset, reordered
    const ref = build(init);
    ref.compile({ optimizer: tf.train.sgd(0.2), loss: 'categoricalCrossentropy' });
    const idx = tf.tensor1d(order, 'int32');
    const xs = tf.gather(d.x, idx);
    const ys = tf.gather(d.y, idx);
    const h = await ref.fit(xs, ys, { epochs: 1, batchSize: 4, shuffle: false, verbose: 0 });
    tf.dispose([idx, xs, ys]);
    const m = build(init);
    const opt = tf.train.sgd(0.2);
    const r = await fitProximal(m, d.x, d.y, { epochs: 1, batchSize: 4, mu: 0, global: init, optimizer: opt, loss: 'categoricalCrossentropy', seedOrder: order });
    expect(Math.abs(r.loss - (h.history.loss as number[])[0]!)).toBeLessThanOrEqual(1e-5);
    expectAllClose(getFlatWeights(m), getFlatWeights(ref), 1e-5);
    ref.dispose();
    m.dispose();
    opt.dispose();
  });

  it('adds exactly mu * (w - w_global) to the gradient (one full-batch SGD step)', async () => {
    // Start away from the global model: w0 = global + 0.1 * pattern. One SGD step with lr:
    //   w1(mu) = w0 - lr * (grad_task(w0) + mu * (w0 - global))
    // so w1(mu) - w1(0) = -lr * mu * (w0 - global) on trainable weights, whatever the task gradient.
    const w0 = Float32Array.from(init, (v, i) => v + 0.1 * Math.cos(i));
    const lr = 0.1;
    const mu = 0.7;
    const step = async (muValue: number): Promise<Float32Array> => {
      const m = build(w0);
      const opt = tf.train.sgd(lr);
      await fitProximal(m, d.x, d.y, { epochs: 1, batchSize: N, mu: muValue, global: init, optimizer: opt, loss: 'categoricalCrossentropy' });
      const w = getFlatWeights(m);
      m.dispose();
      opt.dispose();
      return w;
    };
    const plain = await step(0);
    const prox = await step(mu);
    const expected = Float32Array.from(plain, (v, i) => v - lr * mu * (w0[i]! - init[i]!));
    expectAllClose(prox, expected, 1e-6);
  });

  it('with mu > 0 matches minimizing the full objective (task loss + mu/2 ||w - w_global||^2) with momentum', async () => {
    // Reference: the FedProx objective built explicitly and differentiated by tfjs (the
    // straightforward formulation); fitProximal adds the proximal gradient directly instead.
    const mu = 0.3;
    const batchSize = 4;
    const order = Int32Array.from({ length: 17 }, (_, i) => (i * 5 + 2) % N); // a reordered subset
    const w0 = Float32Array.from(init, (v, i) => v + 0.05 * Math.sin(i)); // start away from the global model
    const ref = build(w0);
    const refOpt = tf.train.momentum(0.1, 0.9);
    const vars = ref.trainableWeights.map((w) => w.read() as tf.Variable);
    const globalModel = build(init); // same architecture: its trainable weights line up with ref's
    const anchors = globalModel.trainableWeights.map((w) => tf.clone(w.read()));
    globalModel.dispose();
    const refLosses: number[] = [];
    for (let epoch = 0; epoch < 2; epoch++) {
      let sum = 0;
      for (let start = 0; start < order.length; start += batchSize) {
        const rows = order.slice(start, start + batchSize);
        const idx = tf.tensor1d(rows, 'int32');
        const xb = tf.gather(d.x, idx);
        const yb = tf.gather(d.y, idx);
        let task = 0;
        refOpt.minimize(() => {
          const pred = ref.apply(xb, { training: true }) as tf.Tensor;
          let obj = tf.mean(tf.metrics.categoricalCrossentropy(yb, pred)) as tf.Scalar;
          for (const r of ref.calculateLosses()) obj = tf.add(obj, r);
          task = obj.dataSync()[0]!;
          let prox: tf.Scalar = tf.scalar(0);
          vars.forEach((v, i) => {
            prox = tf.add(prox, tf.sum(tf.square(tf.sub(v, anchors[i]!))));
          });
          return tf.add(obj, tf.mul(prox, mu / 2));
        }, false, vars);
        sum += task * rows.length;
        tf.dispose([idx, xb, yb]);
      }
      refLosses.push(sum / order.length);
    }

    const m = build(w0);
    const opt = tf.train.momentum(0.1, 0.9);
    const losses: number[] = [];
    for (let epoch = 0; epoch < 2; epoch++) {
      const r = await fitProximal(m, d.x, d.y, { epochs: 1, batchSize, mu, global: init, optimizer: opt, loss: 'categoricalCrossentropy', seedOrder: order });
      losses.push(r.loss);
    }
    losses.forEach((l, i) => expect(Math.abs(l - refLosses[i]!)).toBeLessThanOrEqual(1e-5));
    expectAllClose(getFlatWeights(m), getFlatWeights(ref), 1e-5);
    expect(distance(getFlatWeights(m), w0)).toBeGreaterThan(0.01); // it did move
    tf.dispose(anchors);
    ref.dispose();
    m.dispose();
    refOpt.dispose();
    opt.dispose();
  });

  it('with a large mu the weights stay closer to the global model', async () => {
    const train = async (mu: number): Promise<number> => {
      const m = build(init);
      const opt = tf.train.sgd(0.3);
      await fitProximal(m, d.x, d.y, { epochs: 10, batchSize: 4, mu, global: init, optimizer: opt, loss: 'categoricalCrossentropy' });
      const dist = distance(getFlatWeights(m), init);
      m.dispose();
      opt.dispose();
      return dist;
    };
    const free = await train(0);
    const held = await train(2);
    expect(free).toBeGreaterThan(0.05);
    expect(held).toBeLessThan(free * 0.7);
  });

  it('supports sparse-label and binary losses like model.fit', async () => {
    // sparseCategoricalCrossentropy with integer labels
    const ref = build(init);
    ref.compile({ optimizer: tf.train.sgd(0.2), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const h = await ref.fit(d.x, d.labels, { epochs: 1, batchSize: 5, shuffle: false, verbose: 0 });
    const m = build(init);
    const opt = tf.train.sgd(0.2);
    const r = await fitProximal(m, d.x, d.labels, { epochs: 1, batchSize: 5, mu: 0, global: init, optimizer: opt, loss: 'sparseCategoricalCrossentropy' });
    expect(Math.abs(r.loss - (h.history.loss as number[])[0]!)).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(r.accuracy - ((h.history.acc ?? h.history.accuracy) as number[])[0]!)).toBeLessThanOrEqual(1e-5);
    expectAllClose(getFlatWeights(m), getFlatWeights(ref), 1e-5);
    ref.dispose();
    m.dispose();
    opt.dispose();

    // binaryCrossentropy with one sigmoid unit
    const yb = tf.tidy(() => tf.cast(tf.greater(d.labels, 0), 'float32').reshape([N, 1]));
    const bi = build(undefined, 1, 'sigmoid');
    const bInit = getFlatWeights(bi);
    bi.compile({ optimizer: tf.train.sgd(0.2), loss: 'binaryCrossentropy', metrics: ['accuracy'] });
    const hb = await bi.fit(d.x, yb, { epochs: 1, batchSize: 5, shuffle: false, verbose: 0 });
    const mb = build(bInit, 1, 'sigmoid');
    const optB = tf.train.sgd(0.2);
    const rb = await fitProximal(mb, d.x, yb, { epochs: 1, batchSize: 5, mu: 0, global: bInit, optimizer: optB, loss: 'binaryCrossentropy' });
    expect(Math.abs(rb.loss - (hb.history.loss as number[])[0]!)).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(rb.accuracy - ((hb.history.acc ?? hb.history.accuracy) as number[])[0]!)).toBeLessThanOrEqual(1e-5);
    yb.dispose();
    bi.dispose();
    mb.dispose();
    optB.dispose();
  });

  it('leaks no tensors across calls (tf.memory().numTensors flat)', async () => {
    const m = build(init);
    const opt = tf.train.momentum(0.05, 0.9);
    const order = Int32Array.from({ length: N }, (_, i) => N - 1 - i);
    const call = () => fitProximal(m, d.x, d.y, { epochs: 2, batchSize: 5, mu: 0.5, global: init, optimizer: opt, loss: 'categoricalCrossentropy', seedOrder: order });
    await call(); // the first call creates the optimizer's momentum slots
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await call();
    await fitProximal(m, d.x, d.labels, { epochs: 1, batchSize: 7, mu: 0, global: init, optimizer: opt, loss: 'sparseCategoricalCrossentropy' });
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
    opt.dispose();
  });

  it('checks its arguments, naming the parameter', async () => {
    const m = build(init);
    const opt = tf.train.sgd(0.1);
    const base = { epochs: 1, batchSize: 4, mu: 0.1, global: init, optimizer: opt, loss: 'categoricalCrossentropy' };
    const before = tf.memory().numTensors;
    await expect(fitProximal(m, d.x, d.y, { ...base, mu: -1 })).rejects.toThrow(/opts.mu/);
    await expect(fitProximal(m, d.x, d.y, { ...base, mu: Number.NaN })).rejects.toThrow(RangeError);
    await expect(fitProximal(m, d.x, d.y, { ...base, epochs: 0 })).rejects.toThrow(/opts.epochs/);
    await expect(fitProximal(m, d.x, d.y, { ...base, batchSize: 1.5 })).rejects.toThrow(/opts.batchSize/);
    await expect(fitProximal(m, d.x, d.y, { ...base, global: new Float32Array(3) })).rejects.toThrow(/opts.global has 3 values/);
    await expect(fitProximal(m, d.x, d.y, { ...base, global: [] as unknown as Float32Array })).rejects.toThrow(TypeError);
    await expect(fitProximal(m, d.x, d.y, { ...base, loss: 'hinge' })).rejects.toThrow(new RegExp(PROXIMAL_LOSSES[0]!));
    await expect(fitProximal(m, d.x, d.y, { ...base, seedOrder: Int32Array.from([0, N]) })).rejects.toThrow(/seedOrder\[1\]/);
    await expect(fitProximal(m, d.x, d.y, { ...base, seedOrder: [0] as unknown as Int32Array })).rejects.toThrow(TypeError);
    const short = d.y.slice(0, 3);
    await expect(fitProximal(m, d.x, short, base)).rejects.toThrow(/y has 3/);
    short.dispose();
    await expect(fitProximal(m, [] as unknown as tf.Tensor, d.y, base)).rejects.toThrow(/x must be a tf.Tensor/);
    await expect(fitProximal({} as tf.LayersModel, d.x, d.y, base)).rejects.toThrow(/model/);
    await expect(fitProximal(m, d.x, d.y, { ...base, optimizer: {} as tf.Optimizer })).rejects.toThrow(/opts.optimizer/);
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
    opt.dispose();
  });
});
