import * as tf from '@tensorflow/tfjs';

/** Minimal view of tfjs-backend-wasm's BackendWasm that our kernels use. */
export interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number; shape: number[]; dtype: string } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: tf.backend_util.BackendValues): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
}

export type Attrs = Record<string, unknown>;
export type Inputs = Record<string, tf.TensorInfo>;

type KernelFunc = (args: { inputs: Inputs; backend: WasmBackend; attrs?: Attrs }) => tf.TensorInfo | tf.TensorInfo[];

/**
 * The kernel functions we compose from. For kernels we replace, this holds the original wasm
 * implementation (captured before replacing it); for the others the one registered now.
 */
const originals = new Map<string, tf.KernelConfig>();

export function rememberOriginal(name: string, config: tf.KernelConfig): void {
  if (!originals.has(name)) originals.set(name, config);
}

export function originalKernel(name: string): tf.KernelConfig | undefined {
  return originals.get(name);
}

/** Runs a wasm kernel (the original one if we replaced it) directly on TensorInfos, outside the engine. */
export function runWasm(name: string, backend: WasmBackend, inputs: Inputs, attrs: Attrs = {}): tf.TensorInfo {
  const config = originals.get(name) ?? tf.getKernel(name, 'wasm');
  if (config === undefined) throw new Error(`wasm kernel '${name}' is not registered`);
  const out = (config.kernelFunc as unknown as KernelFunc)({ inputs, backend, attrs });
  return Array.isArray(out) ? (out[0] as tf.TensorInfo) : out;
}

export function dispose(backend: WasmBackend, ...infos: Array<tf.TensorInfo | undefined>): void {
  for (const info of infos) if (info !== undefined) backend.disposeData(info.dataId);
}

export function transpose(backend: WasmBackend, x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
  return runWasm('Transpose', backend, { x }, { perm });
}

/** A typed view over a tensor's memory on the wasm heap. Re-take it after any allocation (the heap may grow). */
export function f32(backend: WasmBackend, t: tf.TensorInfo): Float32Array {
  const data = backend.dataIdMap.get(t.dataId);
  if (data === undefined) throw new Error('tensor data not found on the wasm backend');
  const size = tf.util.sizeFromShape(t.shape);
  return new Float32Array(backend.wasm.HEAPU8.buffer, data.memoryOffset, size);
}

export function i32(backend: WasmBackend, t: tf.TensorInfo): Int32Array {
  const data = backend.dataIdMap.get(t.dataId);
  if (data === undefined) throw new Error('tensor data not found on the wasm backend');
  const size = tf.util.sizeFromShape(t.shape);
  return new Int32Array(backend.wasm.HEAPU8.buffer, data.memoryOffset, size);
}

/** Allocates an output of the given shape; `zero` clears it (malloc'd memory is not zeroed). */
export function makeOutput(backend: WasmBackend, shape: number[], dtype: tf.DataType = 'float32', zero = false): tf.TensorInfo {
  const out = backend.makeOutput(shape, dtype);
  if (zero && tf.util.sizeFromShape(shape) > 0) {
    if (dtype === 'int32') i32(backend, out).fill(0);
    else f32(backend, out).fill(0);
  }
  return out;
}

export function reshape(backend: WasmBackend, x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return runWasm('Reshape', backend, { x }, { shape });
}
