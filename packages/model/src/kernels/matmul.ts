import * as tf from '@tensorflow/tfjs';
import { type Attrs, type Inputs, type WasmBackend, dispose, runWasm, transpose } from './wasm_util.js';

/*
 * wasm 4.22 runs BatchMatMul/_FusedMatMul with a transposed operand through a scalar loop
 * (~3 GFLOP/s instead of ~30), and its _FusedMatMul with transposeA and a bias adds the bias
 * along the wrong axis (wrong results). Its fast path (XNNPACK fully-connected) takes row-major
 * operands and packs the right-hand operand, caching the packed copy per tensor id; packing
 * costs ~3x a transpose per element. In training the weights are fresh tensors every step,
 * so the packing is paid on every forward pass too.
 *
 * For a 2-D product C = op(A)·op(B) ([M,K]·[K,N]) we pick the cheaper of
 *   S1: C   = op(A) · op(B)          (right operand op(B), K×N, packed)
 *   S2: C^T = op(B)^T · op(A)^T      (right operand op(A)^T, K×M, packed; C^T transposed back)
 * materializing transposed operands with wasm's Transpose, so the product always takes the fast path.
 */
const TRANSPOSE_COST = 1;
const PACK_COST = 3;
const EPILOGUE_COST = 1;

/** Tensors that have been the right operand of a fast-path product: XNNPACK has them packed already. */
const packed = new WeakSet<object>();
/** Right operands we saw once and did not pack; seen again, they are being reused (inference), so pack them. */
const seenOnce = new WeakSet<object>();

function swapLast(backend: WasmBackend, t: tf.TensorInfo): tf.TensorInfo {
  const r = t.shape.length;
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return transpose(backend, t, perm);
}

function batchOf(t: tf.TensorInfo): number {
  return tf.util.sizeFromShape(t.shape.slice(0, -2));
}

function applyActivation(backend: WasmBackend, x: tf.TensorInfo, attrs: Attrs, prelu: tf.TensorInfo | undefined): tf.TensorInfo {
  const activation = (attrs.activation as string | undefined) ?? 'linear';
  switch (activation) {
    case 'linear':
      return x;
    case 'relu':
      return runWasm('Relu', backend, { x });
    case 'relu6':
      return runWasm('Relu6', backend, { x });
    case 'elu':
      return runWasm('Elu', backend, { x });
    case 'sigmoid':
      return runWasm('Sigmoid', backend, { x });
    case 'leakyrelu':
      return runWasm('LeakyRelu', backend, { x }, { alpha: attrs.leakyreluAlpha ?? 0.2 });
    case 'prelu':
      if (prelu === undefined) throw new Error('prelu activation needs preluActivationWeights');
      return runWasm('Prelu', backend, { x, alpha: prelu });
    default:
      throw new Error(`unsupported fused activation '${activation}'`);
  }
}

function matMulKernel(name: 'BatchMatMul' | '_FusedMatMul') {
  return (args: { inputs: Inputs; backend: WasmBackend; attrs: Attrs }): tf.TensorInfo => {
    const { inputs, backend, attrs } = args;
    const tA = Boolean(attrs.transposeA);
    const tB = Boolean(attrs.transposeB);
    const a = inputs.a as tf.TensorInfo;
    const b = inputs.b as tf.TensorInfo;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const m = a.shape[tA ? ra - 1 : ra - 2] as number;
    const k = a.shape[tA ? ra - 2 : ra - 1] as number;
    const n = b.shape[tB ? rb - 2 : rb - 1] as number;
    const twoD = batchOf(a) === 1 && batchOf(b) === 1 && a.dtype === 'float32' && b.dtype === 'float32';

    const reused = !tB && (packed.has(b.dataId) || seenOnce.has(b.dataId));
    const costS1 = (tA ? TRANSPOSE_COST * m * k : 0) + (tB ? TRANSPOSE_COST * k * n : 0) + (reused ? 0 : PACK_COST * k * n);
    const costS2 =
      (tB ? 0 : TRANSPOSE_COST * k * n) +
      (tA ? 0 : TRANSPOSE_COST * m * k) +
      (tA && packed.has(a.dataId) ? 0 : PACK_COST * k * m) +
      TRANSPOSE_COST * m * n +
      (name === '_FusedMatMul' ? EPILOGUE_COST * m * n : 0);

    if (!twoD || costS1 <= costS2) {
      if (!tA && !tB) {
        packed.add(b.dataId);
        return runWasm(name, backend, inputs, attrs);
      }
      const a2 = tA ? swapLast(backend, a) : a;
      const b2 = tB ? swapLast(backend, b) : b;
      if (b2 === b) packed.add(b.dataId);
      const out = runWasm(name, backend, { ...inputs, a: a2, b: b2 }, { ...attrs, transposeA: false, transposeB: false });
      if (a2 !== a) dispose(backend, a2);
      if (b2 !== b) dispose(backend, b2);
      return out;
    }

    // S2: C^T = op(B)^T · op(A)^T on 2-D views.
    if (!tB) seenOnce.add(b.dataId);
    const temps: tf.TensorInfo[] = [];
    const a2d = runWasm('Reshape', backend, { x: a }, { shape: tA ? [k, m] : [m, k] });
    const b2d = runWasm('Reshape', backend, { x: b }, { shape: tB ? [n, k] : [k, n] });
    temps.push(a2d, b2d);
    const left = tB ? b2d : transpose(backend, b2d, [1, 0]); // [N,K]
    const right = tA ? a2d : transpose(backend, a2d, [1, 0]); // [K,M]
    if (left !== b2d) temps.push(left);
    if (right !== a2d) temps.push(right);
    if (right === a2d) packed.add(a.dataId);
    const ct = runWasm('BatchMatMul', backend, { a: left, b: right }, { transposeA: false, transposeB: false });
    temps.push(ct);
    let c = transpose(backend, ct, [1, 0]); // [M,N]
    if (name === '_FusedMatMul') {
      const bias = inputs.bias;
      if (bias !== undefined && bias !== null) {
        const withBias = runWasm('Add', backend, { a: c, b: bias });
        temps.push(c);
        c = withBias;
      }
      const activated = applyActivation(backend, c, attrs, inputs.preluActivationWeights ?? undefined);
      if (activated !== c) {
        temps.push(c);
        c = activated;
      }
    }
    dispose(backend, ...temps);
    const outShape = [...(a.shape.length >= b.shape.length ? a.shape : b.shape).slice(0, -2), m, n];
    const out = runWasm('Reshape', backend, { x: c }, { shape: outShape });
    dispose(backend, c);
    return out;
  };
}

/** BatchMatMul: transposed operands on the fast path, and the cheaper orientation for packing. */
export const batchMatMulConfig = { kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: matMulKernel('BatchMatMul') };
/** _FusedMatMul: as BatchMatMul; bias and activation applied after the product when it is computed transposed. */
export const fusedMatMulConfig = { kernelName: '_FusedMatMul', backendName: 'wasm', kernelFunc: matMulKernel('_FusedMatMul') };
