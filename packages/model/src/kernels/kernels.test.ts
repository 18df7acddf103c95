/**
 * Gradient checks: every kernel Flock adds to or replaces in the wasm backend, compared with
 * the tfjs `cpu` backend on the same random inputs (through tf.grads where the kernel is a
 * gradient, so the whole backward path is exercised).
 *
 * Tolerance: |wasm - cpu| <= ATOL + RTOL * |cpu| elementwise, ATOL = RTOL = 1e-4 (both float32;
 * only the summation order differs). Every wasm run must leave no tensor and no backend buffer behind.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { FLOCK_WASM_KERNELS, flockWasmKernelsRegistered, registerFlockWasmKernels, unregisterFlockWasmKernels } from './index.js';
import { maxViolation, randomArray, runOn } from './testing.js';

const ATOL = 1e-4;
const RTOL = 1e-4;

type Shape = number[];
const size = (s: Shape) => s.reduce((a, b) => a * b, 1);

async function expectMatchesCpu(fn: () => tf.Tensor | tf.Tensor[], atol = ATOL, rtol = RTOL, cpuFn = fn): Promise<void> {
  const cpu = await runOn('cpu', cpuFn);
  const wasm = await runOn('wasm', fn);
  expect(wasm.leakedTensors).toBe(0);
  expect(wasm.leakedDataIds).toBe(0);
  expect(wasm.outputs.length).toBe(cpu.outputs.length);
  cpu.outputs.forEach((c, i) => {
    const w = wasm.outputs[i]!;
    expect(w.shape).toEqual(c.shape);
    expect(maxViolation(w.values, c.values, atol, rtol)).toBeLessThanOrEqual(0);
  });
}

/** Calls a kernel through the engine (so on the active backend) with loosely typed attributes. */
function kernel(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>): tf.Tensor {
  return tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  registerFlockWasmKernels();
});

describe('registration', () => {
  it('is idempotent and reversible', async () => {
    await tf.setBackend('wasm');
    expect(flockWasmKernelsRegistered()).toBe(true);
    expect(registerFlockWasmKernels()).toEqual([]);
    const removed = unregisterFlockWasmKernels();
    expect(removed.sort()).toEqual([...FLOCK_WASM_KERNELS].sort());
    expect(flockWasmKernelsRegistered()).toBe(false);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    expect(tf.getKernel('BatchMatMul', 'wasm')).toBeDefined(); // the stock one is back
    expect(registerFlockWasmKernels().sort()).toEqual([...FLOCK_WASM_KERNELS].sort());
    expect(registerFlockWasmKernels()).toEqual([]);
  });
});

describe('Conv2DBackpropFilter / Conv2DBackpropInput (through conv2d gradients)', () => {
  const cases: Array<{ x: Shape; f: Shape; s: number | [number, number]; p: 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]] }> = [
    { x: [2, 7, 7, 3], f: [3, 3, 3, 4], s: 1, p: 'same' },
    { x: [2, 8, 8, 3], f: [3, 3, 3, 4], s: 2, p: 'valid' }, // last row/col of x unused
    { x: [1, 9, 7, 2], f: [2, 3, 2, 3], s: [2, 3], p: 'same' },
    { x: [3, 6, 6, 2], f: [5, 5, 2, 2], s: 1, p: 'valid' },
    { x: [2, 5, 5, 3], f: [1, 1, 3, 2], s: 2, p: 'same' },
    { x: [2, 10, 9, 1], f: [5, 5, 1, 4], s: 3, p: 'same' },
    { x: [2, 6, 6, 2], f: [3, 3, 2, 3], s: 1, p: [[0, 0], [2, 1], [0, 2], [0, 0]] },
    { x: [1, 4, 4, 2], f: [4, 4, 2, 2], s: 1, p: 'valid' }, // 1x1 output
    { x: [1, 5, 5, 2], f: [3, 3, 2, 2], s: 1, p: [[0, 0], [3, 0], [0, 3], [0, 0]] }, // padding > filter-1: dX via matmul + col2im
    // fh*fw*Ci > 64: dW through the swapped XNNPACK convolution (above: im2col + MatMul)
    { x: [2, 7, 7, 8], f: [3, 3, 8, 4], s: 1, p: 'same' },
    { x: [2, 9, 9, 8], f: [3, 3, 8, 5], s: 2, p: 'valid' },
    { x: [1, 8, 8, 3], f: [5, 5, 3, 2], s: 2, p: 'same' },
    { x: [2, 6, 7, 9], f: [3, 3, 9, 3], s: [1, 2], p: [[0, 0], [1, 2], [2, 0], [0, 0]] },
  ];
  it.each(cases)('conv2d x=$x f=$f strides=$s pad=$p', async (c) => {
    const xv = randomArray(size(c.x), 1);
    const fv = randomArray(size(c.f), 2);
    await expectMatchesCpu(() => {
      const x = tf.tensor4d(xv, c.x as [number, number, number, number]);
      const f = tf.tensor4d(fv, c.f as [number, number, number, number]);
      const loss = (x: tf.Tensor, f: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.s, c.p).square().sum();
      return tf.grads(loss)([x, f]);
    });
  });

  it.each([
    { x: [2, 4, 4, 3], f: [3, 3, 2, 3], s: 2, p: 'same' as const },
    { x: [1, 3, 5, 2], f: [2, 2, 4, 2], s: 2, p: 'valid' as const },
    { x: [2, 5, 5, 2], f: [3, 3, 3, 2], s: 1, p: 'same' as const },
  ])('conv2dTranspose x=$x f=$f strides=$s pad=$p (forward and gradients)', async (c) => {
    const xv = randomArray(size(c.x), 3);
    const fv = randomArray(size(c.f), 4);
    const outH = c.p === 'same' ? c.x[1]! * c.s : (c.x[1]! - 1) * c.s + c.f[0]!;
    const outW = c.p === 'same' ? c.x[2]! * c.s : (c.x[2]! - 1) * c.s + c.f[1]!;
    const outShape: [number, number, number, number] = [c.x[0]!, outH, outW, c.f[2]!];
    await expectMatchesCpu(() => {
      const x = tf.tensor4d(xv, c.x as [number, number, number, number]);
      const f = tf.tensor4d(fv, c.f as [number, number, number, number]);
      const fwd = (x: tf.Tensor, f: tf.Tensor) => tf.conv2dTranspose(x as tf.Tensor4D, f as tf.Tensor4D, outShape, c.s, c.p);
      const y = fwd(x, f);
      return [y, ...tf.grads((x: tf.Tensor, f: tf.Tensor) => fwd(x, f).square().sum())([x, f])];
    });
  });

  it('NCHW data format (kernels called directly)', async () => {
    const x: [number, number, number, number] = [2, 3, 7, 6]; // NCHW
    const filter: [number, number, number, number] = [3, 3, 3, 4];
    const dy: [number, number, number, number] = [2, 4, 4, 3]; // stride 2, same
    const xv = randomArray(size(x), 5);
    const fv = randomArray(size(filter), 6);
    const dyv = randomArray(size(dy), 7);
    await expectMatchesCpu(() => {
      const attrs = { strides: [2, 2], pad: 'same', dataFormat: 'NCHW' };
      const dW = kernel('Conv2DBackpropFilter', { x: tf.tensor4d(xv, x), dy: tf.tensor4d(dyv, dy) }, { ...attrs, filterShape: filter });
      const dX = kernel('Conv2DBackpropInput', { dy: tf.tensor4d(dyv, dy), filter: tf.tensor4d(fv, filter) }, { ...attrs, inputShape: x });
      return [dW, dX];
    });
  });
});

describe('DepthwiseConv2dNativeBackpropFilter / BackpropInput', () => {
  const cases: Array<{ x: Shape; f: Shape; s: number; p: 'same' | 'valid' }> = [
    { x: [2, 6, 6, 3], f: [3, 3, 3, 1], s: 1, p: 'same' },
    { x: [2, 7, 7, 2], f: [3, 3, 2, 2], s: 2, p: 'valid' },
    { x: [1, 8, 5, 4], f: [2, 3, 4, 3], s: 2, p: 'same' },
    { x: [3, 5, 5, 1], f: [5, 5, 1, 2], s: 1, p: 'valid' },
  ];
  it.each(cases)('depthwiseConv2d x=$x f=$f strides=$s pad=$p', async (c) => {
    const xv = randomArray(size(c.x), 11);
    const fv = randomArray(size(c.f), 12);
    await expectMatchesCpu(() => {
      const x = tf.tensor4d(xv, c.x as [number, number, number, number]);
      const f = tf.tensor4d(fv, c.f as [number, number, number, number]);
      const loss = (x: tf.Tensor, f: tf.Tensor) => tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.s, c.p).square().sum();
      return tf.grads(loss)([x, f]);
    });
  });

  it('separableConv2d gradients', async () => {
    const xv = randomArray(2 * 6 * 6 * 3, 13);
    const dv = randomArray(3 * 3 * 3 * 2, 14);
    const pv = randomArray(6 * 4, 15);
    await expectMatchesCpu(() => {
      const x = tf.tensor4d(xv, [2, 6, 6, 3]);
      const d = tf.tensor4d(dv, [3, 3, 3, 2]);
      const p = tf.tensor4d(pv, [1, 1, 6, 4]);
      const loss = (x: tf.Tensor, d: tf.Tensor, p: tf.Tensor) => tf.separableConv2d(x as tf.Tensor4D, d as tf.Tensor4D, p as tf.Tensor4D, 1, 'same').square().sum();
      return tf.grads(loss)([x, d, p]);
    });
  });

  it('dilation 2 (kernels called directly; cpu reference = dilation 1 with the zero-expanded filter)', async () => {
    // tfjs cpu ignores dilations in these two kernels, so the reference convolves with the
    // filter expanded to 5x5 (zeros between taps) at dilation 1.
    const x: [number, number, number, number] = [2, 9, 9, 2];
    const filter: [number, number, number, number] = [3, 3, 2, 2];
    const dy: [number, number, number, number] = [2, 9, 9, 4]; // same padding, stride 1
    const xv = randomArray(size(x), 16);
    const fv = randomArray(size(filter), 17);
    const dyv = randomArray(size(dy), 18);
    const base = { strides: [1, 1], pad: 'same' };
    const expand = (f: tf.Tensor4D): tf.Tensor4D => {
      const z = tf.zeros([5, 5, 2, 2]).bufferSync();
      const fb = f.bufferSync();
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let c = 0; c < 2; c++) for (let m = 0; m < 2; m++) z.set(fb.get(i, j, c, m), 2 * i, 2 * j, c, m);
      return z.toTensor() as tf.Tensor4D;
    };
    await expectMatchesCpu(
      () => {
        const attrs = { ...base, dilations: [2, 2] };
        const dW = kernel('DepthwiseConv2dNativeBackpropFilter', { x: tf.tensor4d(xv, x), dy: tf.tensor4d(dyv, dy) }, { ...attrs, filterShape: filter });
        const dX = kernel('DepthwiseConv2dNativeBackpropInput', { dy: tf.tensor4d(dyv, dy), filter: tf.tensor4d(fv, filter) }, { ...attrs, inputShape: x });
        return [dW, dX];
      },
      ATOL,
      RTOL,
      () => {
        const attrs = { ...base, dilations: [1, 1] };
        const dW5 = <tf.Tensor4D>kernel('DepthwiseConv2dNativeBackpropFilter', { x: tf.tensor4d(xv, x), dy: tf.tensor4d(dyv, dy) }, { ...attrs, filterShape: [5, 5, 2, 2] });
        const dW = tf.stridedSlice(dW5, [0, 0, 0, 0], [5, 5, 2, 2], [2, 2, 1, 1]);
        const dX = kernel('DepthwiseConv2dNativeBackpropInput', { dy: tf.tensor4d(dyv, dy), filter: expand(tf.tensor4d(fv, filter)) }, { ...attrs, inputShape: x });
        return [dW, dX];
      },
    );
  });
});

describe('MaxPoolGrad / MaxPoolWithArgmax', () => {
  const cases: Array<{ x: Shape; k: number; s: number; p: 'same' | 'valid'; sign: 'mixed' | 'negative' | 'zero' }> = [
    { x: [2, 8, 8, 3], k: 2, s: 2, p: 'valid', sign: 'mixed' },
    { x: [2, 8, 8, 3], k: 2, s: 2, p: 'valid', sign: 'negative' },
    { x: [2, 7, 7, 2], k: 3, s: 2, p: 'same', sign: 'negative' }, // overlapping windows
    { x: [1, 6, 5, 4], k: 3, s: 1, p: 'valid', sign: 'mixed' },
    { x: [2, 5, 5, 2], k: 2, s: 2, p: 'same', sign: 'negative' }, // padded edge windows
    { x: [1, 4, 4, 2], k: 2, s: 2, p: 'valid', sign: 'zero' }, // ties: the first maximum gets the gradient
    { x: [1, 5, 6, 3], k: 2, s: 1, p: 'valid', sign: 'negative' }, // overlapping 2x2 (fast path)
    { x: [2, 6, 6, 4], k: 2, s: 2, p: 'same', sign: 'mixed' }, // 'same' without padding (fast path)
  ];
  it.each(cases)('maxPool x=$x k=$k s=$s pad=$p values=$sign', async (c) => {
    const raw = randomArray(size(c.x), 21);
    const xv = c.sign === 'mixed' ? raw : c.sign === 'negative' ? raw.map((v) => -Math.abs(v) - 0.01) : new Float32Array(size(c.x));
    const wv = randomArray(size(c.x), 22);
    await expectMatchesCpu(() => {
      const x = tf.tensor4d(xv, c.x as [number, number, number, number]);
      const loss = (x: tf.Tensor) => {
        const y = tf.maxPool(x as tf.Tensor4D, c.k, c.s, c.p);
        return y.mul(tf.tensor(wv.subarray(0, y.size), y.shape)).sum();
      };
      return tf.grads(loss)([x]);
    });
  });

  it.each([
    { include: true, k: 2, s: 2, p: 'same' as const, negative: true },
    { include: false, k: 2, s: 2, p: 'same' as const, negative: true },
    { include: true, k: 3, s: 1, p: 'valid' as const, negative: false },
    { include: false, k: 3, s: 2, p: 'same' as const, negative: true },
  ])('maxPoolWithArgmax k=$k s=$s pad=$p all-negative=$negative includeBatchInIndex=$include (exact)', async (c) => {
    const raw = randomArray(2 * 7 * 6 * 3, 23);
    const xv = c.negative ? raw.map((v) => -Math.abs(v) - 0.01) : raw;
    await expectMatchesCpu(() => {
      const r = tf.maxPoolWithArgmax(tf.tensor4d(xv, [2, 7, 6, 3]), c.k, c.s, c.p, c.include);
      return [r.result, r.indexes] as tf.Tensor[];
    }, 0, 0);
  });
});

describe('BatchMatMul / _FusedMatMul', () => {
  const cases: Array<{ a: Shape; b: Shape; tA: boolean; tB: boolean }> = [];
  for (const [m, k, n] of [[4, 300, 200], [200, 30, 3], [1, 17, 5], [32, 64, 64]] as const) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) cases.push({ a: tA ? [k, m] : [m, k], b: tB ? [n, k] : [k, n], tA, tB });
    }
  }
  cases.push({ a: [3, 5, 7], b: [3, 7, 4], tA: false, tB: false });

  it.each(cases)('matMul a=$a b=$b transposeA=$tA transposeB=$tB (forward and gradients)', async (c) => {
    const av = randomArray(size(c.a), 31);
    const bv = randomArray(size(c.b), 32);
    await expectMatchesCpu(() => {
      const a = tf.tensor(av, c.a);
      const b = tf.tensor(bv, c.b);
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b, c.tA, c.tB);
      return [f(a, b), ...tf.grads((a: tf.Tensor, b: tf.Tensor) => f(a, b).square().sum())([a, b])];
    });
  });

  // Broadcast batch dims: forward only (tfjs-core's BatchMatMul gradient does not reduce broadcast dims, on any backend).
  it.each([
    { a: [3, 7, 5], b: [1, 4, 7], tA: true, tB: true },
    { a: [2, 5, 7], b: [7, 4], tA: false, tB: false },
    { a: [2, 5, 7], b: [3, 7], tA: false, tB: true },
  ])('matMul with broadcast a=$a b=$b transposeA=$tA transposeB=$tB (forward)', async (c) => {
    const av = randomArray(size(c.a), 39);
    const bv = randomArray(size(c.b), 40);
    await expectMatchesCpu(() => tf.matMul(tf.tensor(av, c.a), tf.tensor(bv, c.b), c.tA, c.tB));
  });

  const fused: Array<{ m: number; k: number; n: number; tA: boolean; tB: boolean; activation: 'linear' | 'relu' | 'elu' | 'relu6' | 'sigmoid' | 'leakyrelu' | 'prelu'; bias: boolean }> = [
    { m: 8, k: 300, n: 200, tA: false, tB: false, activation: 'relu', bias: true },
    { m: 8, k: 300, n: 200, tA: true, tB: false, activation: 'linear', bias: true },
    { m: 8, k: 300, n: 200, tA: false, tB: true, activation: 'elu', bias: false },
    { m: 200, k: 30, n: 3, tA: true, tB: true, activation: 'sigmoid', bias: true },
    { m: 4, k: 100, n: 150, tA: false, tB: false, activation: 'leakyrelu', bias: true },
    { m: 4, k: 100, n: 150, tA: false, tB: false, activation: 'prelu', bias: true },
    { m: 4, k: 100, n: 150, tA: false, tB: false, activation: 'relu6', bias: false },
  ];
  it.each(fused)('fused.matMul m=$m k=$k n=$n tA=$tA tB=$tB $activation bias=$bias', async (c) => {
    const av = randomArray(c.m * c.k, 33);
    const bv = randomArray(c.k * c.n, 34);
    const biasv = randomArray(c.n, 35);
    const alphav = randomArray(c.n, 36, 0, 0.5);
    await expectMatchesCpu(() => {
      const a = tf.tensor2d(av, c.tA ? [c.k, c.m] : [c.m, c.k]);
      const b = tf.tensor2d(bv, c.tB ? [c.n, c.k] : [c.k, c.n]);
      const bias = c.bias ? tf.tensor1d(biasv) : undefined;
      const prelu = c.activation === 'prelu' ? tf.tensor1d(alphav) : undefined;
      const f = (a: tf.Tensor, b: tf.Tensor) =>
        tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, transposeA: c.tA, transposeB: c.tB, bias, activation: c.activation, preluActivationWeights: prelu, leakyreluAlpha: 0.1 });
      const y = f(a, b);
      // Gradients through the fused op are only defined for linear/relu/... in tfjs; take them where cpu has them.
      const grads: tf.Tensor[] = ['linear', 'relu', 'elu', 'relu6', 'sigmoid'].includes(c.activation) ? (tf.grads((a: tf.Tensor, b: tf.Tensor) => f(a, b).square().sum())([a, b]) as tf.Tensor[]) : [];
      return [y, ...grads];
    });
  });

  it('reuses the packed right operand for repeated products with the same weights (inference)', async () => {
    await tf.setBackend('wasm');
    const a = tf.tensor2d(randomArray(8 * 300, 37), [8, 300]);
    const w = tf.tensor2d(randomArray(300 * 200, 38), [300, 200]);
    const first = tf.matMul(a, w);
    const second = tf.matMul(a, w);
    expect(maxViolation(second.dataSync(), first.dataSync(), ATOL, RTOL)).toBeLessThanOrEqual(0);
    tf.dispose([a, w, first, second]);
  });
});

describe('UnsortedSegmentSum', () => {
  it('float32 with out-of-range ids dropped, rank-2 data', async () => {
    const xv = randomArray(7 * 5, 41);
    await expectMatchesCpu(() => tf.unsortedSegmentSum(tf.tensor2d(xv, [7, 5]), tf.tensor1d([0, 2, 2, -1, 5, 1, 0], 'int32'), 4));
  });
  it('int32 data', async () => {
    await expectMatchesCpu(() => tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4, 5], 'int32'), tf.tensor1d([1, 1, 0, 2, 1], 'int32'), 3), 0, 0);
  });
  it('gather gradient (Embedding backward) with repeated indices', async () => {
    const tv = randomArray(10 * 4, 42);
    const wv = randomArray(2 * 5 * 4, 43);
    await expectMatchesCpu(() => {
      const table = tf.tensor2d(tv, [10, 4]);
      const idx = tf.tensor2d([1, 2, 3, 1, 9, 0, 2, 2, 2, 7], [2, 5], 'int32');
      return tf.grads((t: tf.Tensor) => tf.gather(t, idx).mul(tf.tensor3d(wv, [2, 5, 4])).sum())([table]);
    });
  });
});

describe('AvgPoolGrad', () => {
  it.each([
    { x: [2, 7, 7, 3], k: 3, s: 2, p: 'same' as const },
    { x: [2, 8, 8, 4], k: 2, s: 2, p: 'valid' as const },
    { x: [1, 6, 5, 2], k: 2, s: 1, p: 'same' as const },
    { x: [1, 9, 9, 2], k: [3, 2] as [number, number], s: [2, 3] as [number, number], p: 'valid' as const },
  ])('avgPool x=$x k=$k s=$s pad=$p', async (c) => {
    const xv = randomArray(size(c.x), 51);
    await expectMatchesCpu(() => tf.grads((x: tf.Tensor) => tf.avgPool(x as tf.Tensor4D, c.k, c.s, c.p).square().sum())([tf.tensor4d(xv, c.x as [number, number, number, number])]));
  });
});
