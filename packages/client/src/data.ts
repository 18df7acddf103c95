import * as tf from '@tensorflow/tfjs';

/** Local examples as tensors: `x` inputs and `y` targets (one-hot for classification). */
export interface TensorData {
  x: tf.Tensor;
  y: tf.Tensor;
}

/** What an app hands the SDK: tensors, or a tf.data dataset of `{xs, ys}` batches' elements. */
export type LocalData = TensorData | tf.data.Dataset<tf.TensorContainer>;

export function isTensorData(d: LocalData): d is TensorData {
  return typeof d === 'object' && d !== null && 'x' in d && 'y' in d && (d as TensorData).x instanceof tf.Tensor;
}

/** Number of examples in the local data (datasets report their size when known). */
export function exampleCount(d: LocalData): number {
  if (isTensorData(d)) return d.x.shape[0] ?? 0;
  const size = (d as tf.data.Dataset<tf.TensorContainer>).size;
  if (size === null || !Number.isFinite(size)) throw new RangeError('dataset size is unknown; use .take(n) or pass numExamples');
  return size;
}
