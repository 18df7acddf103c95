import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { stripEmscriptenProcessHandlers } from './process-handlers.js';

// Before any wasm backend instantiates: no minified glue dumped above uncaught errors (process-handlers.ts).
stripEmscriptenProcessHandlers();

/**
 * Which TensorFlow.js backend to train on. `auto` picks the fastest one available: in Node
 * tfjs-node-gpu, tfjs-node, wasm, cpu; in a browser or Web Worker webgpu, webgl, wasm, cpu.
 */
export type BackendPreference = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';
export const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'tensorflow-gpu', 'tensorflow', 'webgpu', 'webgl', 'wasm', 'cpu'];

export interface BackendInfo {
  /** tfjs backend name in use: 'tensorflow' (tfjs-node / tfjs-node-gpu), 'webgpu', 'webgl', 'wasm' or 'cpu'. */
  name: string;
  /** What was asked for. */
  requested: BackendPreference;
  /** The package that provides it, e.g. '@tensorflow/tfjs-node-gpu'. */
  provider: string;
  /** Backends tried before this one that failed to initialise, and why (absent when none did). */
  skipped?: Array<{ name: string; reason: string }>;
}

/** Where the wasm backend fetches its .wasm binaries: a URL prefix (ending in '/') or a map from file name to URL. */
export type WasmPaths = string | Partial<Record<'tfjs-backend-wasm.wasm' | 'tfjs-backend-wasm-simd.wasm' | 'tfjs-backend-wasm-threaded-simd.wasm', string>>;

export interface SelectBackendOptions {
  /**
   * Browsers: where the wasm backend's .wasm files are served (docs/how-to/gpu.md). Bundlers do
   * not copy them; serve node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm and name the
   * folder here. Default: tfjs' own guess (next to the script), which most bundles break.
   */
  wasmPaths?: WasmPaths;
}

let current: BackendInfo | undefined;

/**
 * Flock's wasm kernels (./kernels), loaded when the wasm backend is selected: a browser bundle
 * built from '@flock/model/core' (the SDK's) fetches them only if it trains on wasm.
 */
async function registerKernels(): Promise<void> {
  (await import('./kernels/index.js')).registerFlockWasmKernels();
}

async function tryImport(pkg: string): Promise<boolean> {
  try {
    await import(/* @vite-ignore */ pkg);
    return true;
  } catch {
    return false;
  }
}

/** True in a browser page or a Web Worker (not Node, Deno or Bun, which have process). */
export function inBrowser(): boolean {
  const g = globalThis as { process?: { versions?: { node?: string } }; document?: unknown; importScripts?: unknown; navigator?: unknown };
  if (g.process?.versions?.node) return false;
  return typeof g.document !== 'undefined' || typeof g.importScripts === 'function' || typeof g.navigator !== 'undefined';
}

function candidatesFor(preference: BackendPreference): Array<[string, string]> {
  switch (preference) {
    case 'auto':
      return inBrowser()
        ? [['@tensorflow/tfjs-backend-webgpu', 'webgpu'], ['@tensorflow/tfjs-backend-webgl', 'webgl'], ['@tensorflow/tfjs-backend-wasm', 'wasm'], ['@tensorflow/tfjs-backend-cpu', 'cpu']]
        : [['@tensorflow/tfjs-node-gpu', 'tensorflow'], ['@tensorflow/tfjs-node', 'tensorflow'], ['@tensorflow/tfjs-backend-wasm', 'wasm'], ['@tensorflow/tfjs', 'cpu']];
    case 'tensorflow-gpu':
      return [['@tensorflow/tfjs-node-gpu', 'tensorflow']];
    case 'tensorflow':
      return [['@tensorflow/tfjs-node', 'tensorflow']];
    case 'webgpu':
      return [['@tensorflow/tfjs-backend-webgpu', 'webgpu']];
    case 'webgl':
      return [['@tensorflow/tfjs-backend-webgl', 'webgl']];
    case 'wasm':
      return [['@tensorflow/tfjs-backend-wasm', 'wasm']];
    default:
      return [[inBrowser() ? '@tensorflow/tfjs-backend-cpu' : '@tensorflow/tfjs', 'cpu']];
  }
}

/** Why a backend cannot even be tried here, or undefined when it can. */
async function unavailable(pkg: string, name: string): Promise<string | undefined> {
  if (name === 'tensorflow') return (await tryImport(pkg)) ? undefined : 'not installed';
  if (name === 'webgpu') {
    if (typeof (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu === 'undefined') return 'no WebGPU in this browser (navigator.gpu)';
    // @tensorflow/tfjs does not bundle webgpu: the app imports '@tensorflow/tfjs-backend-webgpu' to offer it.
    if (!tf.findBackendFactory('webgpu') && !(await tryImport(pkg))) return `not registered (import '${pkg}' in the app to use WebGPU)`;
  }
  if ((name === 'webgl' || name === 'webgpu') && !inBrowser()) return 'only in a browser';
  return undefined;
}

/**
 * Selects the tfjs backend. `auto`: in Node tfjs-node-gpu if installed, then tfjs-node, then
 * wasm (with Flock's training kernels, see ./kernels), then cpu; in a browser or Web Worker
 * webgpu (when the app imported @tensorflow/tfjs-backend-webgpu and the browser has WebGPU),
 * webgl, then wasm, then cpu. The native backends are optional and never required. Selecting
 * wasm registers Flock's wasm kernels (idempotent), so every caller that trains on wasm gets
 * the missing gradients, the MaxPoolGrad fix and the fast paths; `options.wasmPaths` says where a
 * browser fetches the .wasm files. A backend that fails to initialise is listed in `skipped`
 * with the reason (`auto` goes on to the next; an explicit preference throws with the reason).
 */
export async function selectBackend(preference: BackendPreference = 'auto', options: SelectBackendOptions = {}): Promise<BackendInfo> {
  // Production mode: no debug checks, and no console banner urging tfjs-node on every run.
  tf.enableProdMode();
  if (!BACKEND_PREFERENCES.includes(preference)) {
    throw new RangeError(`backend must be one of ${BACKEND_PREFERENCES.join(', ')}; got '${String(preference)}'`);
  }
  if (options.wasmPaths !== undefined) {
    if (typeof options.wasmPaths !== 'string' && (typeof options.wasmPaths !== 'object' || options.wasmPaths === null)) throw new TypeError('options.wasmPaths must be a URL prefix or a map of file names to URLs');
    setWasmPaths(options.wasmPaths as Parameters<typeof setWasmPaths>[0]);
  }
  const skipped: Array<{ name: string; reason: string }> = [];
  for (const [pkg, name] of candidatesFor(preference)) {
    const why = await unavailable(pkg, name);
    if (why) {
      // Optional native packages missing from a Node install are not worth reporting under auto.
      if (!(preference === 'auto' && name === 'tensorflow')) skipped.push({ name, reason: why });
      continue;
    }
    // Before setBackend: the kernels forward the wasm backend's setup to the stock kernels they wrap.
    if (name === 'wasm') await registerKernels();
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        current = { name, requested: preference, provider: pkg, ...(skipped.length ? { skipped } : {}) };
        return current;
      }
      skipped.push({ name, reason: 'failed to initialise' + (name === 'wasm' && inBrowser() ? ' (are the .wasm files served where options.wasmPaths says?)' : '') });
    } catch (err) {
      skipped.push({ name, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  const reasons = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  throw new Error(`backend '${preference}' is not available${reasons ? ` (${reasons})` : ''}; install it or use --backend auto`);
}

let pending: Promise<BackendInfo> | undefined;

/**
 * Makes TensorFlow.js ready to run: `await ready()` before creating tensors (tfjs ops throw
 * "backend 'wasm' has not yet been initialized" until then). The first call picks the backend:
 * the one selectBackend chose if it was called, else one the app set itself with
 * `await tf.setBackend(...)`, else `selectBackend(preference)` (default 'auto'). Later calls resolve
 * to the same backend. FlockClient.start() awaits it, so an app that only trains through the SDK
 * needs no call of its own.
 */
export function ready(preference: BackendPreference = 'auto', options: SelectBackendOptions = {}): Promise<BackendInfo> {
  if (current) return tf.ready().then(() => current!);
  pending ??= (async () => {
    const chosen = tf.engine().backendName;
    if (chosen) {
      // The app (or tfjs itself, initialising on first use) already set a backend: keep it.
      if (chosen === 'wasm') await registerKernels();
      await tf.ready();
      current = { name: tf.getBackend(), requested: preference, provider: 'the app (tf.setBackend)' };
      return current;
    }
    return await selectBackend(preference, options);
  })().finally(() => (pending = undefined));
  return pending;
}

/** The backend chosen by the last selectBackend call, if any. */
export function currentBackend(): BackendInfo | undefined {
  return current;
}
