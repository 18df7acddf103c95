import * as tf from '@tensorflow/tfjs';
import { yieldToEventLoop } from './yield.js';

/** Per-example loss functions fitProximal understands (the tfjs-layers loss of the same name). */
const LOSSES: Record<string, (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor> = {
  categoricalCrossentropy: (t, p) => tf.metrics.categoricalCrossentropy(t, p),
  // As tfjs-layers: integer labels -> one-hot -> categorical crossentropy.
  sparseCategoricalCrossentropy: (t, p) => {
    const classes = p.shape[p.shape.length - 1]!;
    const flat = tf.cast(tf.floor(tf.reshape(t, [-1])), 'int32');
    return tf.metrics.categoricalCrossentropy(tf.reshape(tf.oneHot(flat, classes), p.shape), p);
  },
  binaryCrossentropy: (t, p) => tf.metrics.binaryCrossentropy(t, p),
  meanSquaredError: (t, p) => tf.metrics.meanSquaredError(t, p),
  meanAbsoluteError: (t, p) => tf.metrics.meanAbsoluteError(t, p),
};

/** Loss names accepted by {@link fitProximal}. */
export const PROXIMAL_LOSSES: readonly string[] = Object.keys(LOSSES);

export interface FitProximalOptions {
  /** Passes over the data (positive integer). */
  epochs: number;
  /** Examples per step (positive integer); the last batch of an epoch may be smaller. */
  batchSize: number;
  /** Proximal coefficient mu >= 0; 0 is plain minibatch training. */
  mu: number;
  /** The global model's weights, flat in `model.weights` order (as getFlatWeights / the coordinator send them). */
  global: Float32Array;
  /** The optimizer to step with (its slots, e.g. momentum, persist in it across calls). */
  optimizer: tf.Optimizer;
  /** Loss name as in model.compile: one of PROXIMAL_LOSSES. */
  loss: string;
  /**
   * Order in which to visit the examples (indices into x / y; may be a prefix of a permutation
   * to train on a subset). The same order is used in every epoch; call once per epoch with
   * epochs: 1 to reshuffle between epochs. Default: 0..n-1.
   */
  seedOrder?: Int32Array;
}

export interface FitProximalResult {
  /** Example-weighted mean over the last epoch's batches of the task loss plus regularizer penalties, measured before each step (as model.fit reports it; the proximal term is not included). */
  loss: number;
  /** Example-weighted mean accuracy over the last epoch's batches (tfjs 'accuracy' rules: binary when the output has one unit or the loss is binaryCrossentropy, sparse for sparseCategoricalCrossentropy, else categorical). */
  accuracy: number;
}

function accuracyFn(model: tf.LayersModel, loss: string): (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor {
  const outShape = model.outputs[0]?.shape ?? [];
  if (loss === 'binaryCrossentropy' || outShape[outShape.length - 1] === 1) return (t, p) => tf.metrics.binaryAccuracy(t, p);
  if (loss === 'sparseCategoricalCrossentropy') {
    return (t, p) => tf.tidy(() => tf.cast(tf.equal(tf.cast(tf.reshape(t, [-1]), 'int32'), tf.cast(tf.argMax(p, -1), 'int32')), 'float32'));
  }
  return (t, p) => tf.metrics.categoricalAccuracy(t, p);
}


/**
 * FedProx local training (Li et al. 2020): minibatch steps on
 *
 *     task loss (+ the model's regularizer penalties) + (mu / 2) * ||w - w_global||^2
 *
 * where the proximal term runs over the trainable weights only (non-trainable weights, e.g.
 * batch-norm statistics, are not pulled towards the global model). Batches are taken in order
 * (`seedOrder`, default 0..n-1) without shuffling, so runs are reproducible. With mu = 0 the
 * steps are the ones model.fit takes with the same optimizer, batches and loss. The proximal
 * term's gradient, mu * (w - w_global), is added to the task gradient directly (exact, and
 * O(params) per step).
 *
 * The model need not be compiled. All intermediate tensors are released: tf.memory().numTensors
 * is the same before and after a call (apart from optimizer slots created on its first use).
 * Works on every tfjs backend (wasm, cpu, webgl, tfjs-node).
 */
export async function fitProximal(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, opts: FitProximalOptions): Promise<FitProximalResult> {
  if (!model || !Array.isArray(model.weights) || typeof model.apply !== 'function') throw new TypeError('model must be a tf.LayersModel');
  if (!(x instanceof tf.Tensor)) throw new TypeError('x must be a tf.Tensor');
  if (!(y instanceof tf.Tensor)) throw new TypeError('y must be a tf.Tensor');
  if (!opts || typeof opts !== 'object') throw new TypeError('opts must be an options object');
  const n = x.shape[0];
  if (x.rank < 1 || n === undefined || n === 0) throw new RangeError('x must hold at least one example (shape [n, ...])');
  if (y.shape[0] !== n) throw new RangeError(`x has ${n} examples but y has ${y.shape[0]}`);
  const { epochs, batchSize, mu, global, optimizer, loss, seedOrder } = opts;
  if (!Number.isInteger(epochs) || epochs <= 0) throw new RangeError(`opts.epochs must be a positive integer; got ${epochs}`);
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError(`opts.batchSize must be a positive integer; got ${batchSize}`);
  if (typeof mu !== 'number' || !Number.isFinite(mu) || mu < 0) throw new RangeError(`opts.mu must be a finite number >= 0; got ${mu}`);
  if (!(global instanceof Float32Array)) throw new TypeError('opts.global must be a Float32Array');
  if (!optimizer || typeof optimizer.minimize !== 'function') throw new TypeError('opts.optimizer must be a tf.Optimizer');
  const lossFn = typeof loss === 'string' ? LOSSES[loss] : undefined;
  if (!lossFn) throw new RangeError(`opts.loss must be one of ${PROXIMAL_LOSSES.join(', ')}; got ${String(loss)}`);
  if (seedOrder !== undefined) {
    if (!(seedOrder instanceof Int32Array)) throw new TypeError('opts.seedOrder must be an Int32Array');
    if (seedOrder.length === 0) throw new RangeError('opts.seedOrder must not be empty');
    for (let i = 0; i < seedOrder.length; i++) {
      const v = seedOrder[i]!;
      if (v < 0 || v >= n) throw new RangeError(`opts.seedOrder[${i}] = ${v} is outside 0..${n - 1}`);
    }
  }

  // Offsets of each weight in the flat vector (model.weights order), matched to the trainable variables.
  const offsets = new Map<number, { offset: number; size: number; shape: number[] }>();
  let total = 0;
  for (const w of model.weights) {
    const shape = w.shape.map((d) => d ?? 0);
    const size = shape.reduce((a, b) => a * b, 1);
    offsets.set(w.id, { offset: total, size, shape });
    total += size;
  }
  if (global.length !== total) throw new RangeError(`opts.global has ${global.length} values; the model has ${total} parameters`);
  const trainable = model.trainableWeights;
  const vars = trainable.map((w) => w.read() as tf.Variable);
  const accFn = accuracyFn(model, loss);

  const anchors: tf.Tensor[] = [];
  let muScalar: tf.Scalar | undefined;
  // Batches are gathered row by row (as model.fit does), never tf.slice'd: on the wasm backend
  // a slice reads the whole source tensor back from the heap (a full copy of the dataset per
  // batch), and a tf.gather of the whole dataset (to apply seedOrder up front) is also slow.
  const order = seedOrder ?? Int32Array.from({ length: n }, (_, i) => i);
  const count = order.length;
  try {
    if (mu > 0) {
      for (const w of trainable) {
        const o = offsets.get(w.id);
        if (!o) throw new Error(`internal: trainable weight ${w.name} is not in model.weights`);
        anchors.push(tf.tensor(global.subarray(o.offset, o.offset + o.size), o.shape, 'float32'));
      }
      muScalar = tf.scalar(mu);
    }
    let result: FitProximalResult = { loss: Number.NaN, accuracy: Number.NaN };
    let lastYield = Date.now();
    for (let epoch = 0; epoch < epochs; epoch++) {
      // Example-weighted sums stay on the device until the end of the epoch (no per-batch sync).
      let lossSum: tf.Tensor = tf.scalar(0);
      let accSum: tf.Tensor = tf.scalar(0);
      try {
        for (let start = 0; start < count; start += batchSize) {
          const size = Math.min(batchSize, count - start);
          const [batchLoss, batchAcc] = tf.tidy(() => {
            const idx = tf.tensor1d(order.slice(start, start + size), 'int32');
            const xb = tf.gather(x, idx);
            const yb = tf.gather(y, idx);
            let acc!: tf.Scalar;
            // The task loss (+ regularizer penalties) is differentiated by tfjs; the proximal
            // term's gradient, mu * (w - w_global), is added to it exactly, so the step is the
            // one on task loss + (mu / 2) * ||w - w_global||^2 without building that term
            // (and its backward pass) op by op.
            const { value, grads } = optimizer.computeGradients(() => {
              const pred = model.apply(xb, { training: true }) as tf.Tensor;
              let objective = tf.mean(lossFn(yb, pred)) as tf.Scalar;
              for (const r of model.calculateLosses()) objective = tf.add(objective, r);
              acc = tf.keep(tf.mean(accFn(yb, pred)) as tf.Scalar);
              return objective;
            }, vars);
            const step = vars.map((v, i) => {
              const g = grads[v.name]; // undefined when the loss does not depend on v (as in minimize)
              if (!muScalar) return { name: v.name, tensor: g! };
              const prox = tf.mul(tf.sub(v, anchors[i]!), muScalar);
              return { name: v.name, tensor: g ? tf.add(g, prox) : prox };
            });
            optimizer.applyGradients(step);
            // acc is tf.keep'd (it outlives every enclosing tidy): release it by hand, with value and grads.
            const out: [tf.Tensor, tf.Tensor] = [tf.mul(value, size), tf.mul(acc, size)];
            tf.dispose([value, acc, grads]);
            return out;
          });
          const nextLoss = tf.add(lossSum, batchLoss);
          const nextAcc = tf.add(accSum, batchAcc);
          tf.dispose([lossSum, accSum, batchLoss, batchAcc]);
          lossSum = nextLoss;
          accSum = nextAcc;
          if (Date.now() - lastYield > 100) {
            await yieldToEventLoop(); // keep sockets and timers alive during long epochs
            lastYield = Date.now();
          }
        }
        const [l, a] = await Promise.all([lossSum.data(), accSum.data()]);
        result = { loss: l[0]! / count, accuracy: a[0]! / count };
      } finally {
        tf.dispose([lossSum, accSum]);
      }
    }
    return result;
  } finally {
    tf.dispose(anchors);
    if (muScalar) muScalar.dispose();
  }
}
