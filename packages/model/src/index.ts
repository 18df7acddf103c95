// Public API of @flock/model: tfjs glue shared by the client, the coordinator and simulations.
export { ready, selectBackend, currentBackend, inBrowser, BACKEND_PREFERENCES } from './backend.js';
export type { BackendPreference, BackendInfo, SelectBackendOptions, WasmPaths } from './backend.js';
export { createPresetModel, MODEL_PRESETS } from './presets.js';
export type { ModelPreset, PresetOptions } from './presets.js';
export { weightSpecOf, getFlatWeights, setFlatWeights, subtract } from './weights.js';
export { flatModelOf, modelJsonOf, flatModelFromArtifacts } from './artifacts.js';
export type { FlatModel } from './artifacts.js';
export { registerFlockWasmKernels, unregisterFlockWasmKernels, flockWasmKernelsRegistered, FLOCK_WASM_KERNELS } from './kernels/index.js';
