import * as tf from '@tensorflow/tfjs';
import { type Attrs, type WasmBackend, f32, i32, makeOutput } from './wasm_util.js';

/**
 * UnsortedSegmentSum (missing in wasm; the gradient of Gather, so of Embedding).
 * out[s, ...] = sum of x[i, ...] over i with segmentIds[i] == s; ids outside [0, numSegments) are dropped.
 */
export function unsortedSegmentSum(args: { inputs: { x: tf.TensorInfo; segmentIds: tf.TensorInfo }; backend: WasmBackend; attrs: Attrs }): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, segmentIds } = inputs;
  const numSegments = attrs.numSegments as number;
  const idsRank = segmentIds.shape.length;
  const inner = tf.util.sizeFromShape(x.shape.slice(idsRank));
  const outShape = [numSegments, ...x.shape.slice(idsRank)];
  const dtype = x.dtype === 'int32' ? 'int32' : 'float32';
  const out = makeOutput(backend, outShape, dtype, true);
  const ids = segmentIds.dtype === 'int32' ? i32(backend, segmentIds) : f32(backend, segmentIds);
  const xv = dtype === 'int32' ? i32(backend, x) : f32(backend, x);
  const ov = dtype === 'int32' ? i32(backend, out) : f32(backend, out);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i] as number;
    if (!(s >= 0 && s < numSegments)) continue;
    let p = i * inner;
    let q = s * inner;
    for (let k = 0; k < inner; k++, q++, p++) ov[q] = (ov[q] as number) + (xv[p] as number);
  }
  return out;
}

export const unsortedSegmentSumConfig = { kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum };
