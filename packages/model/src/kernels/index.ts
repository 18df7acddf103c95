import * as tf from '@tensorflow/tfjs';
import { conv2DBackpropFilterConfig, conv2DBackpropInputConfig } from './conv2d.js';
import { depthwiseConv2dNativeBackpropFilterConfig, depthwiseConv2dNativeBackpropInputConfig } from './depthwise.js';
import { batchMatMulConfig, fusedMatMulConfig } from './matmul.js';
import { avgPoolGradConfig, maxPoolGradConfig, maxPoolWithArgmaxConfig } from './pool.js';
import { unsortedSegmentSumConfig } from './segment.js';
import { originalKernel, rememberOriginal } from './wasm_util.js';

/**
 * Training kernels for tfjs-backend-wasm 4.22 that it lacks, gets wrong or runs slowly:
 * - missing: Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter/Input, UnsortedSegmentSum
 * - wrong: MaxPoolGrad, MaxPoolWithArgmax (running max starts at FLT_MIN, not -Infinity)
 * - wrong: _FusedMatMul with transposeA and a bias (bias added along the wrong axis)
 * - slow: BatchMatMul/_FusedMatMul with transposed operands, Conv2DBackpropInput, MaxPoolGrad, AvgPoolGrad (scalar loops)
 */
const CONFIGS: ReadonlyArray<{ kernelName: string; backendName: string; kernelFunc: unknown }> = [
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  unsortedSegmentSumConfig,
  maxPoolGradConfig,
  maxPoolWithArgmaxConfig,
  avgPoolGradConfig,
  batchMatMulConfig,
  fusedMatMulConfig,
];

const ours = new WeakSet<object>();
const registered = new Map<string, tf.KernelConfig>();

function ourConfig(c: (typeof CONFIGS)[number]): tf.KernelConfig {
  let config = registered.get(c.kernelName);
  if (config === undefined) {
    config = {
      kernelName: c.kernelName,
      backendName: 'wasm',
      kernelFunc: c.kernelFunc as tf.KernelFunc,
      // Replaced kernels keep the original's setup (cwrap of the wasm function we still call),
      // which the engine runs when the wasm backend initializes after we registered.
      setupFunc: (backend: object) => {
        const setup = originalKernel(c.kernelName)?.setupFunc;
        if (setup !== undefined) setup(backend as never);
      },
    };
    ours.add(config);
    registered.set(c.kernelName, config);
  }
  return config;
}

/** Names of every kernel Flock adds to or replaces in the wasm backend. */
export const FLOCK_WASM_KERNELS: readonly string[] = CONFIGS.map((c) => c.kernelName);

/**
 * Registers Flock's wasm training kernels. Idempotent: returns the names it added or replaced
 * in this call (empty when they were all in place already). Safe before or after the wasm
 * backend initializes.
 */
export function registerFlockWasmKernels(): string[] {
  const changed: string[] = [];
  for (const c of CONFIGS) {
    const existing = tf.getKernel(c.kernelName, 'wasm');
    if (existing !== undefined && ours.has(existing)) continue;
    if (existing !== undefined) {
      rememberOriginal(c.kernelName, existing);
      tf.unregisterKernel(c.kernelName, 'wasm');
    }
    tf.registerKernel(ourConfig(c));
    changed.push(c.kernelName);
  }
  return changed;
}

/** Restores the stock wasm kernels (for benchmarks against plain wasm). Returns the names it removed. */
export function unregisterFlockWasmKernels(): string[] {
  const removed: string[] = [];
  for (const c of CONFIGS) {
    const existing = tf.getKernel(c.kernelName, 'wasm');
    if (existing === undefined || !ours.has(existing)) continue;
    tf.unregisterKernel(c.kernelName, 'wasm');
    const original = originalKernel(c.kernelName);
    if (original !== undefined) tf.registerKernel(original);
    removed.push(c.kernelName);
  }
  return removed;
}

/** True when every Flock wasm kernel is registered. */
export function flockWasmKernelsRegistered(): boolean {
  return CONFIGS.every((c) => {
    const k = tf.getKernel(c.kernelName, 'wasm');
    return k !== undefined && ours.has(k);
  });
}
