// Public API of @flock/coordinator.
export { Coordinator } from './coordinator.js';
export type { CoordinatorOptions, RoundSummary, Logger } from './coordinator.js';
export { coordinatorSettingsSchema, coordinatorSettingsFields } from './options.js';
export type { CoordinatorSettings, CoordinatorSettingsInput } from './options.js';
export { FedAvg } from './strategy.js';
export type { Strategy, FitContext, StrategySettings } from './strategy.js';
export { WeightedMeanAggregator } from './aggregator.js';
export { SecureCollector } from './secure-collector.js';
export type { SecureCollectorOptions, SecureAggregationSettings } from './secure-collector.js';
export type { UpdateAggregator, AggregateResult } from './aggregator.js';
export { MemoryModelStore } from './model-store.js';
export { openFederationDatabase, FederationDatabase, SqliteModelStore, SqliteClientRegistry, SqliteServingEvents, RoundLog, StrategyStateStore, UploadKeys, MIGRATIONS, SCHEMA_VERSION } from './store/index.js';
export type { FederationRecord, RoundCommit, RoundRecord, RoundStatus, PersistentStrategy } from './store/index.js';
export { openPostgresStore, PgFederationStore, PG_MIGRATIONS, redactUrl } from './store/index.js';
export type { FederationStore, DurableModelStore, StoreLock, PgConnectOptions, Awaitable } from './store/index.js';
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
export { MemoryClientRegistry } from './auth/memory-registry.js';
export type { ClientRegistry, ClientIdentity, EnrollmentToken } from './auth/registry.js';
export { ClientAuthenticator } from './auth/authenticator.js';
export type { AuthMode, Admission } from './auth/authenticator.js';
export { mintToken, parseToken, parseDuration, hashSecret, constantTimeEqual, checkToken } from './auth/tokens.js';
export type { SyncClientRegistry } from './auth/tokens.js';
export { ChallengeStore } from './auth/challenges.js';
export { FileAuditLog, nullAuditLog } from './admin/audit.js';
export type { AuditLog, AuditEvent } from './admin/audit.js';
export { handleSecurityHttp, mintTokenBodySchema, settingsPatchSchema, promoteBodySchema, rollbackBodySchema } from './admin/admin-api.js';
export { RecentAuditLog } from './admin/recent-audit.js';
export { servingSettingsSchema } from './serving/settings.js';
export type { ServingSettings } from './serving/settings.js';
export { ServingLifecycle, MemoryServingEvents } from './serving/lifecycle.js';
export type { ServingEvent, ServingEventLog } from './serving/lifecycle.js';
export { ServingService } from './serving/service.js';
export type { EvalData, ServingStatus } from './serving/service.js';
export { Predictor } from './serving/predictor.js';
export type { PredictorOptions, Prediction } from './serving/predictor.js';
export { predictBodySchema, predictRequestSchema, predictResponseSchema, tensorSchema } from './serving/inputs.js';
export { CoordinatorMetrics } from './monitoring/metrics.js';
export type { MetricsSource } from './monitoring/metrics.js';
export { openApiDocument } from './http/openapi.js';
export { FleetMember } from './fleet/member.js';
export type { FleetHooks, FleetMemberOptions, FleetNodeParts, FleetEvent } from './fleet/member.js';
export { fleetStrategy, type FleetStrategyOptions } from './fleet/strategy.js';
export { EXACT_SUM_BITS, EXACT_SUM_RANGE, ExactSumAggregator } from './fleet/exact-sum.js';
export { Lease, leaseValue, FENCE_GUARD_LUA } from './fleet/lease.js';
export type { LeaseOptions, LeaseEvents, LeaseLossReason } from './fleet/lease.js';
export { PartialSumAggregator } from './fleet/partial-sum.js';
export { PartialLedger, encodePartial, decodePartial } from './fleet/partials.js';
export type { Partial as FleetPartial, MergeVerdict } from './fleet/partials.js';
export { OPERATOR_NAMESPACE } from './dashboard/feed.js';
export { applyCors, originAllowed, DEFAULT_CORS_ORIGINS, CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS } from './http/cors.js';
export type { CorsOptions } from './http/cors.js';

export type { AdminContext } from './admin/admin-api.js';
export { RateLimiter, TokenBuckets, rateLimitSettingsSchema } from './rate-limit.js';
export type { RateLimitSettings, BucketSettings } from './rate-limit.js';
export { UploadReceiver } from './uploads/receiver.js';
export type { UploadHost, UploadReceiverOptions } from './uploads/receiver.js';
