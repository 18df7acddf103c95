import * as tf from '@tensorflow/tfjs';
import { type Attrs, type WasmBackend, dispose, f32, makeOutput, reshape, runWasm, transpose } from './wasm_util.js';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

function toNHWC(backend: WasmBackend, t: tf.TensorInfo, channelsFirst: boolean): tf.TensorInfo {
  return channelsFirst ? transpose(backend, t, [0, 2, 3, 1]) : t;
}

/**
 * Below this many filter taps (fh*fw*Ci, e.g. a first layer on 1-3 channel images) the swapped
 * convolution has very few output rows and runs poorly in XNNPACK; an explicit im2col (JS, over
 * the wasm heap) and one fast MatMul are ~2x faster there.
 */
const IM2COL_MAX_K = 64;

/** dW[K, Co] = cols^T[K, P] · dy[P, Co] with K = fh*fw*Ci, P = N*Ho*Wo (x already NHWC, sliced). */
function backpropFilterIm2col(backend: WasmBackend, x: tf.TensorInfo, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const { batchSize: n, inChannels: ci, outHeight: ho, outWidth: wo, outChannels: co, filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const h = x.shape[1] as number;
  const w = x.shape[2] as number;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const k = fh * fw * ci;
  const p = n * ho * wo;
  const colsT = makeOutput(backend, [k, p], 'float32', true);
  const xv = f32(backend, x);
  const cv = f32(backend, colsT);
  for (let i = 0; i < fh; i++) {
    for (let j = 0; j < fw; j++) {
      for (let c = 0; c < ci; c++) {
        let q = ((i * fw + j) * ci + c) * p;
        for (let b = 0; b < n; b++) {
          for (let y = 0; y < ho; y++) {
            const r = y * sh + i - pt;
            if (r < 0 || r >= h) {
              q += wo;
              continue;
            }
            const rowBase = ((b * h + r) * w) * ci + c;
            for (let xx = 0; xx < wo; xx++, q++) {
              const col = xx * sw + j - pl;
              if (col >= 0 && col < w) cv[q] = xv[rowBase + col * ci] as number;
            }
          }
        }
      }
    }
  }
  const dy2 = reshape(backend, dy, [p, co]);
  const dW = runWasm('BatchMatMul', backend, { a: colsT, b: dy2 }, { transposeA: false, transposeB: false }); // [K, Co]
  const out = reshape(backend, dW, [fh, fw, ci, co]);
  dispose(backend, colsT, dy2, dW);
  return out;
}

/**
 * Conv2DBackpropFilter (missing in tfjs-backend-wasm 4.22).
 *
 * dW[i,j,ci,co] = sum_{n,y,x} x[n, y*s + i - pt, x*s + j - pl, ci] * dy[n, y, x, co]
 *
 * which is a convolution of x (batch and channels swapped: [Ci,H,W,N]) with dy as the filter
 * ([Ho,Wo,N,Co]), stride 1 and dilation = the forward stride. wasm's Conv2D (XNNPACK) does it
 * fast; the transposes are wasm's own Transpose kernel. Small filters (fh*fw*Ci <= IM2COL_MAX_K)
 * go through im2col + MatMul instead.
 */
export function conv2DBackpropFilter(args: { inputs: { x: tf.TensorInfo; dy: tf.TensorInfo }; backend: WasmBackend; attrs: Attrs }): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as {
    strides: [number, number] | number;
    pad: Pad;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode: Rounding;
    filterShape: [number, number, number, number];
  };
  const channelsFirst = dataFormat === 'NCHW';
  const $dataFormat = tf.backend_util.convertConv2DDataFormat(dataFormat ?? 'NHWC');
  const info = tf.backend_util.computeConv2DInfo(
    inputs.x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, $dataFormat,
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: ho, outWidth: wo, filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  if (n === 0 || ho === 0 || wo === 0) {
    return makeOutput(backend, filterShape, 'float32', true);
  }

  const x = toNHWC(backend, inputs.x, channelsFirst);
  const dy = toNHWC(backend, inputs.dy, channelsFirst);
  const temps: tf.TensorInfo[] = [];
  if (x !== inputs.x) temps.push(x);
  if (dy !== inputs.dy) temps.push(dy);

  // Rows/cols of x the convolution reads: the last tap is at (ho-1)*sh + fh-1 - pt.
  const needH = (ho - 1) * sh + fh - pt; // rows of x used, counted from row 0 (excluding top padding)
  const needW = (wo - 1) * sw + fw - pl;
  let xs = x;
  if (needH < h || needW < w) {
    xs = runWasm('Slice', backend, { x }, { begin: [0, 0, 0, 0], size: [n, Math.min(h, needH), Math.min(w, needW), ci] });
    temps.push(xs);
  }
  const hs = xs.shape[1] as number;
  const ws = xs.shape[2] as number;
  const pb = needH - hs; // >= 0
  const pr = needW - ws;

  if (fh * fw * ci <= IM2COL_MAX_K) {
    const out = backpropFilterIm2col(backend, xs, dy, info);
    dispose(backend, ...temps);
    return out;
  }

  const xT = transpose(backend, xs, [3, 1, 2, 0]); // [Ci, H, W, N]
  const dyT = transpose(backend, dy, [1, 2, 0, 3]); // [Ho, Wo, N, Co]
  temps.push(xT, dyT);
  const g = runWasm('Conv2D', backend, { x: xT, filter: dyT }, {
    strides: [1, 1], dilations: [sh, sw], pad: [[0, 0], [pt, pb], [pl, pr], [0, 0]], dataFormat: 'NHWC', dimRoundingMode: undefined,
  }); // [Ci, fh, fw, Co]
  temps.push(g);
  if (g.shape[1] !== fh || g.shape[2] !== fw) {
    dispose(backend, ...temps);
    throw new Error(`internal: Conv2DBackpropFilter produced ${g.shape} for filter ${filterShape}`);
  }
  const out = transpose(backend, g, [1, 2, 0, 3]); // [fh, fw, Ci, Co]
  dispose(backend, ...temps);
  return out;
}

/**
 * Conv2DBackpropInput (wasm's is a scalar loop).
 * stride 1: a convolution of dy with the filter rotated by 180 degrees and its channels swapped.
 * stride > 1: cols = dy[N*Ho*Wo, Co] x W^T[Co, fh*fw*Ci] on the fast MatMul path, then col2im in JS.
 */
export function conv2DBackpropInput(args: { inputs: { dy: tf.TensorInfo; filter: tf.TensorInfo }; backend: WasmBackend; attrs: Attrs }): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as {
    strides: [number, number] | number;
    pad: Pad;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode: Rounding;
    inputShape: [number, number, number, number];
  };
  const channelsFirst = dataFormat === 'NCHW';
  const $dataFormat = tf.backend_util.convertConv2DDataFormat(dataFormat ?? 'NHWC');
  const filter = inputs.filter;
  const info = tf.backend_util.computeConv2DInfo(
    inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false, $dataFormat,
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: ho, outWidth: wo, outChannels: co, filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const nhwcShape = [n, h, w, ci];
  const finish = (dxNHWC: tf.TensorInfo): tf.TensorInfo => {
    if (!channelsFirst) return dxNHWC;
    const t = transpose(backend, dxNHWC, [0, 3, 1, 2]);
    dispose(backend, dxNHWC);
    return t;
  };
  if (n * h * w * ci === 0) return makeOutput(backend, info.inShape, 'float32', true);
  if (ho * wo * co === 0) return makeOutput(backend, info.inShape, 'float32', true);

  const dy = toNHWC(backend, inputs.dy, channelsFirst);
  const temps: tf.TensorInfo[] = [];
  if (dy !== inputs.dy) temps.push(dy);

  // Stride-1 convolution: dx[r] = sum_i dy[r + pt - i] * W[i]  ->  conv(dy padded by fh-1-pt on top).
  const topC = fh - 1 - pt;
  const leftC = fw - 1 - pl;
  const bottomC = h - 1 + pt - (ho - 1); // so that output height = ho + topC + bottomC - fh + 1 = h
  const rightC = w - 1 + pl - (wo - 1);
  if (sh === 1 && sw === 1 && topC >= 0 && leftC >= 0 && bottomC >= 0 && rightC >= 0) {
    const rev = runWasm('Reverse', backend, { x: filter }, { dims: [0, 1] });
    const wT = transpose(backend, rev, [0, 1, 3, 2]); // [fh, fw, Co, Ci]
    temps.push(rev, wT);
    const dx = runWasm('Conv2D', backend, { x: dy, filter: wT }, {
      strides: [1, 1], dilations: [1, 1], pad: [[0, 0], [topC, bottomC], [leftC, rightC], [0, 0]], dataFormat: 'NHWC', dimRoundingMode: undefined,
    });
    dispose(backend, ...temps);
    return finish(dx);
  }

  // General path: matmul + col2im.
  const k = fh * fw * ci;
  const w2 = reshape(backend, filter, [k, co]);
  const wT = transpose(backend, w2, [1, 0]); // [Co, K]
  const dy2 = reshape(backend, dy, [n * ho * wo, co]);
  temps.push(w2, wT, dy2);
  const cols = runWasm('BatchMatMul', backend, { a: dy2, b: wT }, { transposeA: false, transposeB: false }); // [N*Ho*Wo, K]
  temps.push(cols);
  const dx = makeOutput(backend, nhwcShape, 'float32', true);
  const c = f32(backend, cols);
  const o = f32(backend, dx);
  const rowStride = w * ci;
  const imgStride = h * rowStride;
  let p = 0;
  for (let b = 0; b < n; b++) {
    const base = b * imgStride;
    for (let y = 0; y < ho; y++) {
      for (let xx = 0; xx < wo; xx++) {
        const r0 = y * sh - pt;
        const c0 = xx * sw - pl;
        for (let i = 0; i < fh; i++) {
          const r = r0 + i;
          if (r < 0 || r >= h) {
            p += fw * ci;
            continue;
          }
          for (let j = 0; j < fw; j++) {
            const cc = c0 + j;
            if (cc < 0 || cc >= w) {
              p += ci;
              continue;
            }
            let q = base + r * rowStride + cc * ci;
            for (let ch = 0; ch < ci; ch++, q++, p++) o[q] = (o[q] as number) + (c[p] as number);
          }
        }
      }
    }
  }
  dispose(backend, ...temps);
  return finish(dx);
}

export const conv2DBackpropFilterConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter,
};

export const conv2DBackpropInputConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInput,
};
