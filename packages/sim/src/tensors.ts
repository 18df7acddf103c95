import * as tf from '@tensorflow/tfjs';
import { FASHION_MNIST_FEATURES } from './data/index.js';

/** Gathers the examples at `indices` into image [n,28,28,1] and one-hot label tensors. */
export function toTensors(images: Float32Array, labels: Uint8Array, indices: ArrayLike<number> | undefined, numClasses = 10): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const n = indices ? indices.length : labels.length;
  const xs = new Float32Array(n * FASHION_MNIST_FEATURES);
  const ys = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const src = indices ? indices[i]! : i;
    xs.set(images.subarray(src * FASHION_MNIST_FEATURES, (src + 1) * FASHION_MNIST_FEATURES), i * FASHION_MNIST_FEATURES);
    ys[i] = labels[src]!;
  }
  const x = tf.tensor4d(xs, [n, 28, 28, 1]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(ys, 'int32'), numClasses).toFloat() as tf.Tensor2D);
  return { x, y };
}
