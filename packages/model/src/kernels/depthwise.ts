import * as tf from '@tensorflow/tfjs';
import { type Attrs, type WasmBackend, f32, makeOutput } from './wasm_util.js';

type DwAttrs = {
  strides: [number, number] | number;
  dilations?: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

/** Visits every (output position, filter tap) pair that reads a real (non-padding) input pixel. */
function forEachTap(info: tf.backend_util.Conv2DInfo, visit: (xOff: number, dyOff: number, wOff: number) => void): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  for (let b = 0; b < batchSize; b++) {
    for (let yR = 0; yR < outHeight; yR++) {
      for (let yC = 0; yC < outWidth; yC++) {
        const dyOff = ((b * outHeight + yR) * outWidth + yC) * outChannels;
        for (let i = 0; i < filterHeight; i++) {
          const xR = yR * strideHeight + i * dilationHeight - pt;
          if (xR < 0 || xR >= inHeight) continue;
          for (let j = 0; j < filterWidth; j++) {
            const xC = yC * strideWidth + j * dilationWidth - pl;
            if (xC < 0 || xC >= inWidth) continue;
            visit(((b * inHeight + xR) * inWidth + xC) * inChannels, dyOff, (i * filterWidth + j) * outChannels);
          }
        }
      }
    }
  }
}

/** DepthwiseConv2dNativeBackpropFilter (missing in wasm): JS over the wasm heap, float64 accumulation. */
export function depthwiseConv2dNativeBackpropFilter(args: { inputs: { x: tf.TensorInfo; dy: tf.TensorInfo }; backend: WasmBackend; attrs: Attrs }): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { strides, dilations, pad, dimRoundingMode } = attrs as DwAttrs;
  const filterShape = attrs.filterShape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(inputs.x.shape as [number, number, number, number], filterShape, strides, dilations ?? 1, pad, dimRoundingMode, true);
  const ci = info.inChannels;
  const m = info.outChannels / ci;
  const acc = new Float64Array(tf.util.sizeFromShape(filterShape));
  const xv = f32(backend, inputs.x);
  const dyv = f32(backend, inputs.dy);
  forEachTap(info, (xOff, dyOff, wOff) => {
    let k = 0;
    for (let c = 0; c < ci; c++) {
      const xval = xv[xOff + c] as number;
      for (let q = 0; q < m; q++, k++) acc[wOff + k] = (acc[wOff + k] as number) + xval * (dyv[dyOff + k] as number);
    }
  });
  const out = makeOutput(backend, filterShape, 'float32');
  f32(backend, out).set(acc);
  return out;
}

/** DepthwiseConv2dNativeBackpropInput (missing in wasm): JS over the wasm heap, float64 accumulation. */
export function depthwiseConv2dNativeBackpropInput(args: { inputs: { dy: tf.TensorInfo; filter: tf.TensorInfo }; backend: WasmBackend; attrs: Attrs }): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { strides, dilations, pad, dimRoundingMode } = attrs as DwAttrs;
  const inputShape = attrs.inputShape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(inputShape, inputs.filter.shape as [number, number, number, number], strides, dilations ?? 1, pad, dimRoundingMode, true);
  const ci = info.inChannels;
  const m = info.outChannels / ci;
  const acc = new Float64Array(tf.util.sizeFromShape(inputShape));
  const dyv = f32(backend, inputs.dy);
  const wv = f32(backend, inputs.filter);
  forEachTap(info, (xOff, dyOff, wOff) => {
    let k = 0;
    for (let c = 0; c < ci; c++) {
      let s = 0;
      for (let q = 0; q < m; q++, k++) s += (dyv[dyOff + k] as number) * (wv[wOff + k] as number);
      acc[xOff + c] = (acc[xOff + c] as number) + s;
    }
  });
  const out = makeOutput(backend, inputShape, 'float32');
  f32(backend, out).set(acc);
  return out;
}

export const depthwiseConv2dNativeBackpropFilterConfig = { kernelName: 'DepthwiseConv2dNativeBackpropFilter', backendName: 'wasm', kernelFunc: depthwiseConv2dNativeBackpropFilter };
export const depthwiseConv2dNativeBackpropInputConfig = { kernelName: 'DepthwiseConv2dNativeBackpropInput', backendName: 'wasm', kernelFunc: depthwiseConv2dNativeBackpropInput };
