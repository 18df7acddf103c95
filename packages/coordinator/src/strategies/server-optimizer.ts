import type { TrainConfig } from '@flock/protocol';
import { WeightedMeanAggregator, type AggregateResult, type UpdateAggregator } from '../aggregator.js';
import type { FitContext, Strategy } from '../strategy.js';
import { StrategyConfigError } from './errors.js';
import { decodeFloat64, encodeFloat64, serverOptimizerStateSchema, type ServerOptimizerState } from './state.js';

/**
 * Base of the strategies that run an optimizer on the server (FedAvgM, FedAdam, FedYogi,
 * FedAdagrad). They only ever look at the round's weighted mean delta, which is exactly what
 * secure aggregation reveals, so all of them run under SecAgg and DP unchanged.
 *
 * The pseudo-gradient of a round is the mean delta `d = mean(local - global)`; note the sign: it
 * points downhill, so steps ADD it (x += eta * ...), as in Reddi et al. 2021 and Flower.
 *
 * Optimizer state lives in float64 buffers sized to the model, allocated on the first step.
 * `state()` / `restoreState()` save and restore it as plain JSON so a restarted coordinator
 * resumes with the same momentum / second moments.
 */
export abstract class ServerOptimizerStrategy implements Strategy {
  abstract readonly name: string;
  /** Names of the float64 state buffers, in a fixed order. */
  protected abstract readonly bufferNames: readonly string[];
  /** Model size, fixed by the first step (or a restored state). */
  private size: number | null = null;
  private steps = 0;
  /** State buffers by name; empty until the first step. */
  protected readonly buffers = new Map<string, Float64Array>();

  /** Server steps taken so far (one per committed training round). */
  get step(): number {
    return this.steps;
  }

  /** The hyper-parameters in force, by their spec names (e.g. `{ eta: 0.1, beta1: 0.9 }`). */
  abstract params(): Record<string, number>;

  /** Value a buffer starts at (0 unless a subclass says otherwise, e.g. Adagrad's initial accumulator). */
  protected initialValue(_buffer: string): number {
    return 0;
  }

  /**
   * One optimizer step: update the buffers in place from `delta` and write the new weights into
   * `next`. Inputs are already validated (same length, finite). Must not throw.
   */
  protected abstract update(global: Float32Array, delta: Float32Array, next: Float32Array): void;

  configureFit(ctx: FitContext): TrainConfig {
    if (!ctx || typeof ctx !== 'object' || !ctx.config) throw new TypeError('ctx.config is required');
    return ctx.config;
  }

  createAggregator(numParams: number): UpdateAggregator {
    return new WeightedMeanAggregator(numParams);
  }

  aggregateFit(global: Float32Array, aggregate: AggregateResult, _ctx?: FitContext): Float32Array {
    if (!(global instanceof Float32Array)) throw new TypeError('global must be a Float32Array');
    if (!aggregate || !(aggregate.meanDelta instanceof Float32Array)) throw new TypeError('aggregate.meanDelta must be a Float32Array');
    const delta = aggregate.meanDelta;
    if (delta.length !== global.length) throw new RangeError(`aggregate.meanDelta has ${delta.length} values; global has ${global.length}`);
    if (this.size !== null && this.size !== global.length) {
      throw new RangeError(`${this.name}: the optimizer state is for a model of ${this.size} parameters; got ${global.length}. Use a fresh strategy for another model.`);
    }
    for (let i = 0; i < delta.length; i++) {
      if (!Number.isFinite(delta[i]!)) throw new RangeError(`aggregate.meanDelta[${i}] is ${delta[i]}; the optimizer state is left untouched`);
    }
    if (this.size === null) this.allocate(global.length);
    const next = new Float32Array(global.length);
    this.update(global, delta, next);
    this.steps++;
    return next;
  }

  /** The optimizer state as plain JSON (base64 float64 buffers). */
  state(): ServerOptimizerState {
    const buffers: Record<string, string> = {};
    for (const name of this.bufferNames) {
      const b = this.buffers.get(name);
      if (b) buffers[name] = encodeFloat64(b);
    }
    return { format: 'flock-strategy-state/v1', strategy: this.name, step: this.steps, numParams: this.size, params: this.params(), buffers };
  }

  /**
   * Restores a state saved by `state()` of the same strategy. The hyper-parameters of this
   * instance (its constructor options) stay in force; the saved ones are informative only.
   * Validates everything before changing anything.
   */
  restoreState(state: unknown): void {
    const parsed = serverOptimizerStateSchema.safeParse(state);
    if (!parsed.success) {
      throw new StrategyConfigError('STRATEGY_INVALID', `not a saved strategy state: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    }
    const s = parsed.data;
    if (s.strategy !== this.name) throw new StrategyConfigError('STRATEGY_INVALID', `the saved state belongs to strategy "${s.strategy}", not "${this.name}"`);
    const restored = new Map<string, Float64Array>();
    if (s.numParams === null) {
      if (s.step !== 0 || Object.keys(s.buffers).length > 0) throw new StrategyConfigError('STRATEGY_INVALID', 'saved state has steps or buffers but no numParams');
    } else {
      for (const name of this.bufferNames) {
        const text = s.buffers[name];
        if (text === undefined) throw new StrategyConfigError('STRATEGY_INVALID', `saved state lacks buffer "${name}"`);
        restored.set(name, decodeFloat64(text, s.numParams, name));
      }
      const extra = Object.keys(s.buffers).filter((k) => !this.bufferNames.includes(k));
      if (extra.length) throw new StrategyConfigError('STRATEGY_INVALID', `saved state has unknown buffers: ${extra.join(', ')}`);
    }
    this.buffers.clear();
    for (const [k, v] of restored) this.buffers.set(k, v);
    this.size = s.numParams;
    this.steps = s.step;
  }

  private allocate(n: number): void {
    for (const name of this.bufferNames) {
      const b = new Float64Array(n);
      const init = this.initialValue(name);
      if (init !== 0) b.fill(init);
      this.buffers.set(name, b);
    }
    this.size = n;
  }

  /** The named buffer (only valid inside `update`). */
  protected buffer(name: string): Float64Array {
    const b = this.buffers.get(name);
    if (!b) throw new Error(`internal: buffer ${name} not allocated`);
    return b;
  }
}

/** A strategy whose state must survive a coordinator restart (all server optimizers). */
export interface StatefulStrategy extends Strategy {
  state(): ServerOptimizerState;
  restoreState(state: unknown): void;
}

/** True when `strategy` has optimizer state to persist (`state()` / `restoreState()`). */
export function isStatefulStrategy(strategy: Strategy): strategy is StatefulStrategy {
  const s = strategy as Partial<StatefulStrategy> | null | undefined;
  return !!s && typeof s.state === 'function' && typeof s.restoreState === 'function';
}
