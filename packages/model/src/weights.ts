import * as tf from '@tensorflow/tfjs';
import { FlockError, specSize, type ModelSpec } from '@flock/protocol';

/** Weight shapes are always fully known; tfjs types them as Shape (nullable dims). */
function shapeOf(w: tf.LayerVariable): number[] {
  return w.shape.map((d) => d ?? 0);
}

function sizeOf(w: tf.LayerVariable): number {
  return shapeOf(w).reduce((a, b) => a * b, 1);
}

/**
 * The spec of a model's weights in `model.weights` order. Names are the tfjs original
 * names (without the `_1` suffixes tfjs adds when several models live in one process),
 * which are also the names in TensorFlow.js artifacts.
 */
export function weightSpecOf(model: tf.LayersModel): ModelSpec {
  if (!model || !Array.isArray(model.weights)) throw new TypeError('model must be a tf.LayersModel');
  return {
    format: 'flock-weights/v1',
    weights: model.weights.map((w) => {
      if (w.dtype !== 'float32') throw new FlockError('WRONG_SHAPE', `weight ${w.originalName} has dtype ${w.dtype}; only float32 weights are supported`);
      return { name: w.originalName, shape: shapeOf(w), dtype: 'float32' as const };
    }),
  };
}

/** Reads all weights into one flat Float32Array (spec order). */
export function getFlatWeights(model: tf.LayersModel): Float32Array {
  const weights = model.weights;
  let total = 0;
  for (const w of weights) total += sizeOf(w);
  const out = new Float32Array(total);
  let offset = 0;
  for (const w of weights) {
    const t = w.read();
    const data = t.dataSync() as Float32Array; // no new tensor: read() returns the variable itself
    out.set(data, offset);
    offset += data.length;
  }
  return out;
}

/** Writes a flat Float32Array (spec order) into the model's weights. */
export function setFlatWeights(model: tf.LayersModel, values: Float32Array): void {
  if (!(values instanceof Float32Array)) throw new TypeError('values must be a Float32Array');
  const spec = weightSpecOf(model);
  const n = specSize(spec);
  if (values.length !== n) throw new RangeError(`values has ${values.length} elements; the model has ${n} parameters`);
  let offset = 0;
  tf.tidy(() => {
    for (const w of model.weights) {
      const size = sizeOf(w);
      w.write(tf.tensor(values.subarray(offset, offset + size), shapeOf(w), 'float32'));
      offset += size;
    }
  });
}

/** delta = local - global, element-wise, as a new Float32Array. */
export function subtract(local: Float32Array, global: Float32Array): Float32Array {
  if (!(local instanceof Float32Array)) throw new TypeError('local must be a Float32Array');
  if (!(global instanceof Float32Array)) throw new TypeError('global must be a Float32Array');
  if (local.length !== global.length) throw new RangeError(`local has ${local.length} elements, global ${global.length}`);
  const out = new Float32Array(local.length);
  for (let i = 0; i < out.length; i++) out[i] = local[i]! - global[i]!;
  return out;
}
