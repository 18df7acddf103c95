import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerFlockWasmKernels } from './kernels/index.js';
import { stripEmscriptenProcessHandlers } from './process-handlers.js';

// Before any wasm backend instantiates: no minified glue dumped above uncaught errors (process-handlers.ts).
stripEmscriptenProcessHandlers();

/** Which TensorFlow.js backend to train on. `auto` picks the fastest one available. */
export type BackendPreference = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

export interface BackendInfo {
  /** tfjs backend name in use: 'tensorflow' (tfjs-node / tfjs-node-gpu), 'wasm' or 'cpu'. */
  name: string;
  /** What was asked for. */
  requested: BackendPreference;
  /** The package that provides it, e.g. '@tensorflow/tfjs-node-gpu'. */
  provider: string;
}

let current: BackendInfo | undefined;

async function tryImport(pkg: string): Promise<boolean> {
  try {
    await import(/* @vite-ignore */ pkg);
    return true;
  } catch {
    return false;
  }
}

/**
 * Selects the tfjs backend. `auto` = tfjs-node-gpu if installed, then tfjs-node, then wasm
 * (with Flock's training kernels, see ./kernels), then cpu. The native backends are optional
 * and never required. Selecting wasm registers Flock's wasm kernels (idempotent), so every
 * caller that trains on wasm gets the missing gradients, the MaxPoolGrad fix and the fast paths.
 */
export async function selectBackend(preference: BackendPreference = 'auto'): Promise<BackendInfo> {
  // Production mode: no debug checks, and no console banner urging tfjs-node on every run.
  tf.enableProdMode();
  if (!BACKEND_PREFERENCES.includes(preference)) {
    throw new RangeError(`backend must be one of ${BACKEND_PREFERENCES.join(', ')}; got '${String(preference)}'`);
  }
  const candidates: Array<[string, string]> =
    preference === 'auto'
      ? [['@tensorflow/tfjs-node-gpu', 'tensorflow'], ['@tensorflow/tfjs-node', 'tensorflow'], ['@tensorflow/tfjs-backend-wasm', 'wasm'], ['@tensorflow/tfjs', 'cpu']]
      : preference === 'tensorflow-gpu'
        ? [['@tensorflow/tfjs-node-gpu', 'tensorflow']]
        : preference === 'tensorflow'
          ? [['@tensorflow/tfjs-node', 'tensorflow']]
          : preference === 'wasm'
            ? [['@tensorflow/tfjs-backend-wasm', 'wasm']]
            : [['@tensorflow/tfjs', 'cpu']];
  for (const [pkg, name] of candidates) {
    if (name === 'tensorflow' && !(await tryImport(pkg))) continue;
    // Before setBackend: the kernels forward the wasm backend's setup to the stock kernels they wrap.
    if (name === 'wasm') registerFlockWasmKernels();
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        current = { name, requested: preference, provider: pkg };
        return current;
      }
    } catch {
      // fall through to the next candidate
    }
  }
  throw new Error(`backend '${preference}' is not available; install it or use --backend auto`);
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
export function ready(preference: BackendPreference = 'auto'): Promise<BackendInfo> {
  if (current) return tf.ready().then(() => current!);
  pending ??= (async () => {
    const chosen = tf.engine().backendName;
    if (chosen) {
      // The app (or tfjs itself, initialising on first use) already set a backend: keep it.
      if (chosen === 'wasm') registerFlockWasmKernels();
      await tf.ready();
      current = { name: tf.getBackend(), requested: preference, provider: 'the app (tf.setBackend)' };
      return current;
    }
    return await selectBackend(preference);
  })().finally(() => (pending = undefined));
  return pending;
}

/** The backend chosen by the last selectBackend call, if any. */
export function currentBackend(): BackendInfo | undefined {
  return current;
}
