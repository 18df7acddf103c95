import * as tf from '@tensorflow/tfjs';
import { type Attrs, type WasmBackend, f32, i32, makeOutput } from './wasm_util.js';

type PoolAttrs = {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

/**
 * For every output element (NHWC order), the flat index into x of the first maximum of its
 * window, scanning rows then columns like tfjs `cpu`; -1 when the window has no value > -Infinity.
 * The running max starts at -Infinity (wasm 4.22 starts at FLT_MIN, so windows whose max is
 * <= 0 lose their gradient).
 */
function windowArgmax(xv: Float32Array, info: tf.backend_util.Conv2DInfo, positions: Int32Array, values?: Float32Array): void {
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, strideHeight, strideWidth, dilationHeight, dilationWidth, effectiveFilterHeight, effectiveFilterWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const taps = new Int32Array(info.filterHeight * info.filterWidth);
  const imgSize = inHeight * inWidth * c;
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    const base = b * imgSize;
    for (let yR = 0; yR < outHeight; yR++) {
      const xRCorner = yR * strideHeight - padTop;
      let xRMin = xRCorner;
      while (xRMin < 0) xRMin += dilationHeight;
      const xRMax = Math.min(inHeight, effectiveFilterHeight + xRCorner);
      for (let yC = 0; yC < outWidth; yC++) {
        const xCCorner = yC * strideWidth - padLeft;
        let xCMin = xCCorner;
        while (xCMin < 0) xCMin += dilationWidth;
        const xCMax = Math.min(inWidth, effectiveFilterWidth + xCCorner);
        let nt = 0;
        for (let xR = xRMin; xR < xRMax; xR += dilationHeight) {
          for (let xC = xCMin; xC < xCMax; xC += dilationWidth) taps[nt++] = base + (xR * inWidth + xC) * c;
        }
        for (let d = 0; d < c; d++, o++) {
          let best = Number.NEGATIVE_INFINITY;
          let pos = -1;
          for (let t = 0; t < nt; t++) {
            const p = (taps[t] as number) + d;
            const v = xv[p] as number;
            const gt = v > best;
            best = gt ? v : best;
            pos = gt ? p : pos;
          }
          positions[o] = pos;
          if (values !== undefined) values[o] = best;
        }
      }
    }
  }
}

/**
 * windowArgmax for the common 2x2 pool whose windows all lie inside the image (~1.5x faster,
 * same first-maximum order). Returns false when it does not apply.
 */
function argmax2x2(xv: Float32Array, info: tf.backend_util.Conv2DInfo, positions: Int32Array): boolean {
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth, dilationHeight, dilationWidth } = info;
  if (filterHeight !== 2 || filterWidth !== 2 || dilationHeight !== 1 || dilationWidth !== 1) return false;
  if (info.padInfo.top !== 0 || info.padInfo.left !== 0) return false;
  if ((outHeight - 1) * strideHeight + 2 > inHeight || (outWidth - 1) * strideWidth + 2 > inWidth) return false;
  const row = inWidth * c;
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    const base = b * inHeight * row;
    for (let yR = 0; yR < outHeight; yR++) {
      for (let yC = 0; yC < outWidth; yC++) {
        const p0 = base + yR * strideHeight * row + yC * strideWidth * c;
        const p1 = p0 + c;
        const p2 = p0 + row;
        const p3 = p2 + c;
        for (let d = 0; d < c; d++, o++) {
          let best = Number.NEGATIVE_INFINITY;
          let pos = -1;
          let v = xv[p0 + d] as number;
          if (v > best) {
            best = v;
            pos = p0 + d;
          }
          v = xv[p1 + d] as number;
          if (v > best) {
            best = v;
            pos = p1 + d;
          }
          v = xv[p2 + d] as number;
          if (v > best) {
            best = v;
            pos = p2 + d;
          }
          v = xv[p3 + d] as number;
          if (v > best) pos = p3 + d;
          positions[o] = pos;
        }
      }
    }
  }
  return true;
}

/** MaxPoolGrad: dx[first argmax of each window] += dy. Replaces wasm's (wrong for windows with max <= 0, and 2-4x slower). */
export function maxPoolGrad(args: { inputs: { dy: tf.TensorInfo; input: tf.TensorInfo; output: tf.TensorInfo }; backend: WasmBackend; attrs: Attrs }): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { filterSize, strides, pad, dimRoundingMode } = attrs as PoolAttrs;
  const { dy, input } = inputs;
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const dx = makeOutput(backend, input.shape, 'float32', true);
  const xv = f32(backend, input);
  const dyv = f32(backend, dy);
  const dxv = f32(backend, dx);
  const positions = new Int32Array(dyv.length);
  if (!argmax2x2(xv, info, positions)) windowArgmax(xv, info, positions);
  for (let o = 0; o < positions.length; o++) {
    const p = positions[o] as number;
    if (p >= 0) dxv[p] = (dxv[p] as number) + (dyv[o] as number);
  }
  return dx;
}

/** MaxPoolWithArgmax with the running max starting at -Infinity (same FLT_MIN bug as MaxPoolGrad in wasm 4.22). */
export function maxPoolWithArgmax(args: { inputs: { x: tf.TensorInfo }; backend: WasmBackend; attrs: Attrs }): tf.TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const { filterSize, strides, pad, includeBatchInIndex } = attrs as PoolAttrs & { includeBatchInIndex: boolean };
  const { x } = inputs;
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, [1, 1], pad);
  const pooled = makeOutput(backend, info.outShape, 'float32');
  const indexes = makeOutput(backend, info.outShape, 'int32');
  const xv = f32(backend, x);
  const pv = f32(backend, pooled);
  const iv = i32(backend, indexes);
  const imgSize = info.inHeight * info.inWidth * info.inChannels;
  windowArgmax(xv, info, iv, pv);
  if (!includeBatchInIndex) for (let o = 0; o < iv.length; o++) if ((iv[o] as number) >= 0) iv[o] = (iv[o] as number) % imgSize;
  return [pooled, indexes];
}

/**
 * AvgPoolGrad: every input pixel of a window gets dy / (filterHeight * filterWidth) (tfjs's
 * definition, padding included in the divisor). wasm's is a scalar loop, 2-3x slower than this here.
 */
export function avgPoolGrad(args: { inputs: { dy: tf.TensorInfo; input: tf.TensorInfo }; backend: WasmBackend; attrs: Attrs }): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { filterSize, strides, pad } = attrs as PoolAttrs;
  const { dy, input } = inputs;
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad);
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const mult = 1 / (filterHeight * filterWidth);
  const dx = makeOutput(backend, input.shape, 'float32', true);
  const dyv = f32(backend, dy);
  const dxv = f32(backend, dx);
  const row = inWidth * c;
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    const base = b * inHeight * row;
    for (let yR = 0; yR < outHeight; yR++) {
      const r0 = yR * strideHeight - padTop;
      const rMin = Math.max(0, r0);
      const rMax = Math.min(inHeight, r0 + filterHeight);
      for (let yC = 0; yC < outWidth; yC++, o += c) {
        const c0 = yC * strideWidth - padLeft;
        const cMin = Math.max(0, c0);
        const cMax = Math.min(inWidth, c0 + filterWidth);
        for (let r = rMin; r < rMax; r++) {
          for (let cc = cMin; cc < cMax; cc++) {
            const q = base + r * row + cc * c;
            for (let d = 0; d < c; d++) dxv[q + d] = (dxv[q + d] as number) + (dyv[o + d] as number) * mult;
          }
        }
      }
    }
  }
  return dx;
}

export const avgPoolGradConfig = { kernelName: 'AvgPoolGrad', backendName: 'wasm', kernelFunc: avgPoolGrad };
export const maxPoolGradConfig = { kernelName: 'MaxPoolGrad', backendName: 'wasm', kernelFunc: maxPoolGrad };
export const maxPoolWithArgmaxConfig = { kernelName: 'MaxPoolWithArgmax', backendName: 'wasm', kernelFunc: maxPoolWithArgmax };
