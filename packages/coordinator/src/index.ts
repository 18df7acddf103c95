// Public API of @flock/coordinator.
export { Coordinator } from './coordinator.js';
export type { CoordinatorOptions, RoundSummary, Logger } from './coordinator.js';
export { coordinatorSettingsSchema } from './options.js';
export type { CoordinatorSettings, CoordinatorSettingsInput } from './options.js';
export { FedAvg } from './strategy.js';
export type { Strategy, FitContext } from './strategy.js';
export { WeightedMeanAggregator } from './aggregator.js';
export type { UpdateAggregator, AggregateResult } from './aggregator.js';
export { MemoryModelStore } from './model-store.js';
export type { ModelStore, ModelVersion } from './model-store.js';
export { cohortSize, selectCohort, selectionKey } from './selection.js';
export type { CohortSpec } from './selection.js';
