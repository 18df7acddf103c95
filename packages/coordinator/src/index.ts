// Public API of @flock/coordinator.
export { Coordinator } from './coordinator.js';
export type { CoordinatorOptions, RoundSummary, Logger } from './coordinator.js';
export { coordinatorSettingsSchema, coordinatorSettingsFields } from './options.js';
export type { CoordinatorSettings, CoordinatorSettingsInput } from './options.js';
export { FedAvg } from './strategy.js';
export type { Strategy, FitContext } from './strategy.js';
export { WeightedMeanAggregator } from './aggregator.js';
export type { UpdateAggregator, AggregateResult } from './aggregator.js';
export { MemoryModelStore } from './model-store.js';
export type { ModelStore, ModelVersion } from './model-store.js';
export { cohortSize, selectCohort, selectionKey, selectPoisson } from './selection.js';
export type { CohortSpec } from './selection.js';
export {
  StrategyConfigError,
  ServerOptimizerStrategy,
  isStatefulStrategy,
  serverOptimizerStateSchema,
  FedAvgM,
  FedAdam,
  FedYogi,
  FedAdagrad,
  FedProx,
  BufferedAggregator,
  CoordinateMedianAggregator,
  FedMedian,
  TrimmedMeanAggregator,
  FedTrimmedMean,
  assertSecAggCompatible,
  needsIndividualUpdates,
  createStrategy,
  parseStrategySpec,
  describeStrategies,
  STRATEGY_NAMES,
  STRATEGY_PARAMETERS,
  DifferentiallyPrivate,
} from './strategies/index.js';
export type {
  StrategyErrorCode,
  StatefulStrategy,
  ServerOptimizerState,
  FedAvgMOptions,
  AdaptiveOptions,
  FedAdagradOptions,
  FedProxOptions,
  FedTrimmedMeanOptions,
  StrategyName,
  StrategySpec,
  StrategyParameter,
  DifferentialPrivacyOptions,
  LedgerEntry,
} from './strategies/index.js';
