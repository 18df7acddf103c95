/** Codes a {@link StrategyConfigError} carries. */
export type StrategyErrorCode =
  /** The strategy cannot run under the requested privacy setting (e.g. a median under secure aggregation). */
  | 'STRATEGY_INCOMPATIBLE'
  /** A strategy spec (`fedadam:eta=0.01`, an options object, a saved state) is malformed. */
  | 'STRATEGY_INVALID';

/**
 * A strategy was configured in a way that cannot work. Local to the coordinator (never sent on the
 * wire), so it is not a FlockError. The message says why and what to do instead.
 */
export class StrategyConfigError extends Error {
  readonly code: StrategyErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: StrategyErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'StrategyConfigError';
    this.code = code;
    this.details = details;
  }
}
