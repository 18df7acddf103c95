import * as tf from '@tensorflow/tfjs';
import { setFlatWeights } from '@flock/model';

/** Central evaluation of global weights on a held-out set (loss and accuracy). */
export function evaluateWeights(model: tf.LayersModel, weights: Float32Array, x: tf.Tensor, y: tf.Tensor): { loss: number; accuracy: number } {
  setFlatWeights(model, weights);
  return tf.tidy(() => {
    const batch = 1000;
    const n = x.shape[0]!;
    let lossSum = 0;
    let correct = 0;
    for (let start = 0; start < n; start += batch) {
      const size = Math.min(batch, n - start);
      const xb = x.slice(start, size);
      const yb = y.slice(start, size);
      const p = model.predict(xb) as tf.Tensor2D;
      lossSum += tf.losses.softmaxCrossEntropy(yb, tf.log(tf.clipByValue(p, 1e-7, 1)), undefined, undefined, tf.Reduction.SUM).dataSync()[0]!;
      correct += tf.equal(tf.argMax(p, 1), tf.argMax(yb, 1)).sum().dataSync()[0]!;
    }
    return { loss: lossSum / n, accuracy: correct / n };
  });
}
