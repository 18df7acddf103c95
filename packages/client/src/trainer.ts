// Local training and evaluation of one round (the data never leaves this module's caller).
import * as tf from '@tensorflow/tfjs';
import type { RoundStart } from '@flock/protocol';
import type { ClientPlatform } from './platform.js';
import { exampleCount, isTensorData, type LocalData, type TensorData } from './data.js';
import { permutation, RowPermuter } from './shuffle.js';
import { fitProximal } from './fedprox.js';
import { backgroundSafeCallbacks } from './yield.js';

/**
 * Seed of one epoch's shuffle in a seeded client (simulations). Keyed on the train round index
 * (model version + 1), not on the round number: a round abandoned by a coordinator crash or a
 * timeout is retried on the same model version with the same shuffles, so a seeded run ends
 * with the same model however often its rounds were interrupted (docs/explanation/durability.md).
 */
export function shuffleSeed(seed: number | undefined, start: RoundStart, epoch: number): number | undefined {
  return seed === undefined ? undefined : seed * 1_000_003 + (start.modelVersion + 1) * 1009 + epoch;
}

export interface TrainerOptions {
  data: LocalData;
  evalData?: LocalData | undefined;
  loss?: string | undefined;
  seed?: number | undefined;
  platform: ClientPlatform;
}

/**
 * Trains and evaluates the local model as a round asks (epochs, batch size, learning rate,
 * momentum, FedProx, maxExamples). model.fit yields to the event loop with a macrotask, never
 * requestAnimationFrame (yield.ts): a hidden browser tab keeps training.
 */
export class LocalTrainer {
  /** Local rows read once from the data tensors, for cheap per-epoch shuffles. */
  private permuters: { x: RowPermuter; y: RowPermuter } | undefined;

  constructor(private readonly o: TrainerOptions) {}

  async train(model: tf.LayersModel, start: RoundStart, global: Float32Array): Promise<{ numExamples: number; metrics: Record<string, number>; fitSeconds: number }> {
    let fitMs = 0;
    const timed = async <T>(f: () => Promise<T>): Promise<T> => {
      const f0 = this.o.platform.now();
      try {
        return await f();
      } finally {
        fitMs += this.o.platform.now() - f0;
      }
    };
    const cfg = start.config;
    const optimizer = cfg.momentum ? tf.train.momentum(cfg.learningRate, cfg.momentum) : tf.train.sgd(cfg.learningRate);
    model.compile({ optimizer, loss: this.o.loss ?? 'categoricalCrossentropy', metrics: ['accuracy'] });
    const data = this.o.data;
    let history: tf.History;
    let numExamples: number;
    if (isTensorData(data)) {
      const total = data.x.shape[0]!;
      numExamples = cfg.maxExamples ? Math.min(cfg.maxExamples, total) : total;
      const mu = cfg.proximalMu ?? 0;
      if (mu > 0) {
        // FedProx: the local objective adds mu/2 * ||w - w_global||^2 (a custom loop).
        let result = { loss: NaN, accuracy: NaN };
        for (let epoch = 0; epoch < cfg.epochs; epoch++) {
          const order = permutation(total, shuffleSeed(this.o.seed, start, epoch), this.o.platform);
          result = await timed(() => fitProximal(model, data.x, data.y, { epochs: 1, batchSize: cfg.batchSize, mu, global, optimizer, loss: this.o.loss ?? 'categoricalCrossentropy', seedOrder: order.subarray(0, numExamples) }));
        }
        const metrics: Record<string, number> = {};
        if (Number.isFinite(result.loss)) metrics.loss = result.loss;
        if (Number.isFinite(result.accuracy)) metrics.accuracy = result.accuracy;
        return { numExamples, metrics, fitSeconds: fitMs / 1000 };
      }
      let last: tf.History | undefined;
      for (let epoch = 0; epoch < cfg.epochs; epoch++) {
        // Shuffle ourselves (tfjs' fit shuffle uses Math.random): seeded in simulations.
        const order = permutation(total, shuffleSeed(this.o.seed, start, epoch), this.o.platform);
        const rows = order.subarray(0, numExamples);
        this.permuters ??= { x: new RowPermuter(data.x), y: new RowPermuter(data.y) };
        const xs = this.permuters.x.permute(rows);
        const ys = this.permuters.y.permute(rows);
        try {
          last = await timed(() => model.fit(xs, ys, { epochs: 1, batchSize: cfg.batchSize, shuffle: false, verbose: 0, yieldEvery: 'auto', callbacks: backgroundSafeCallbacks() }));
        } finally {
          tf.dispose([xs, ys]);
        }
      }
      history = last!;
    } else {
      numExamples = exampleCount(data);
      history = await timed(() => model.fitDataset(data.batch(cfg.batchSize), { epochs: cfg.epochs, verbose: 0, yieldEvery: 'auto', callbacks: backgroundSafeCallbacks() }));
    }
    const pick = (k: string): number | undefined => {
      const series = history.history[k];
      const v = series?.[series.length - 1];
      return typeof v === 'number' ? v : undefined;
    };
    const metrics: Record<string, number> = {};
    const loss = pick('loss');
    const acc = pick('acc') ?? pick('accuracy');
    if (loss !== undefined && Number.isFinite(loss)) metrics.loss = loss;
    if (acc !== undefined && Number.isFinite(acc)) metrics.accuracy = acc;
    return { numExamples, metrics, fitSeconds: fitMs / 1000 };
  }

  async evaluate(model: tf.LayersModel, data: LocalData): Promise<{ numExamples: number; loss: number; accuracy: number }> {
    model.compile({ optimizer: 'sgd', loss: this.o.loss ?? 'categoricalCrossentropy', metrics: ['accuracy'] });
    let out: tf.Scalar | tf.Scalar[];
    if (isTensorData(data)) out = model.evaluate((data as TensorData).x, (data as TensorData).y, { batchSize: 512 }) as tf.Scalar | tf.Scalar[];
    else out = (await model.evaluateDataset(data.batch(512) as tf.data.Dataset<{}>, {})) as tf.Scalar | tf.Scalar[];
    const arr = Array.isArray(out) ? out : [out];
    const values = arr.map((t) => t.dataSync()[0]!);
    tf.dispose(arr);
    return { numExamples: exampleCount(data), loss: values[0]!, accuracy: Math.min(1, Math.max(0, values[1] ?? 0)) };
  }
}
