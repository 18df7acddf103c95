// `@flock/model/core`: what the client SDK needs (backend selection, flat weights) without the
// static import of Flock's wasm kernels that the main entry re-exports: bundles built from it
// load the kernels only when the wasm backend is selected (backend.ts). Same modules as the
// main entry, so both share one backend state.
export { ready, selectBackend, currentBackend, inBrowser, BACKEND_PREFERENCES } from './backend.js';
export type { BackendPreference, BackendInfo, SelectBackendOptions, WasmPaths } from './backend.js';
export { weightSpecOf, getFlatWeights, setFlatWeights, subtract } from './weights.js';
