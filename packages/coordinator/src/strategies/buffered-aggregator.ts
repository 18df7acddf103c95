import { FlockError } from '@flock/protocol';
import type { AggregateResult, UpdateAggregator } from '../aggregator.js';

/**
 * Base of the robust aggregators: they need every update on its own, so they keep a copy of each
 * one until the round ends. Memory is O(n * m): n updates of m float32 values (4 * n * m bytes;
 * 100 clients x 1M parameters = 400 MB), against O(m) for the streaming weighted mean. They
 * cannot run under secure aggregation, which never reveals an individual update.
 *
 * Robust statistics are unweighted (each client counts once whatever its example count, which is
 * the point: a client cannot buy influence by claiming many examples); `totalWeight` still
 * reports the sum of the weights for metrics.
 */
export abstract class BufferedAggregator implements UpdateAggregator {
  readonly needsIndividualUpdates = true;
  private readonly updates: Float32Array[] = [];
  private readonly ids = new Set<string>();
  private totalWeight = 0;

  constructor(readonly numParams: number) {
    if (!Number.isInteger(numParams) || numParams <= 0) throw new RangeError('numParams must be a positive integer');
  }

  /** Number of updates buffered so far. */
  get count(): number {
    return this.updates.length;
  }

  add(clientId: string, delta: Float32Array, weight: number): void {
    if (typeof clientId !== 'string' || clientId.length === 0) throw new TypeError('clientId must be a non-empty string');
    if (!(delta instanceof Float32Array)) throw new TypeError('delta must be a Float32Array');
    if (delta.length !== this.numParams) throw new RangeError(`delta has ${delta.length} values; expected ${this.numParams}`);
    if (!(weight > 0) || !Number.isFinite(weight)) throw new RangeError('weight must be a positive finite number');
    if (this.ids.has(clientId)) throw new RangeError(`clientId ${clientId} already added an update this round`);
    for (let i = 0; i < delta.length; i++) {
      if (!Number.isFinite(delta[i]!)) throw new RangeError(`delta[${i}] is ${delta[i]}; NaN and Infinity are never aggregated`);
    }
    this.ids.add(clientId);
    this.updates.push(Float32Array.from(delta)); // a copy: the caller may reuse its buffer
    this.totalWeight += weight;
  }

  result(): AggregateResult {
    const n = this.updates.length;
    if (n === 0) throw new FlockError('TOO_FEW_REPORTS', 'no updates to aggregate');
    const out = new Float32Array(this.numParams);
    const column = new Float64Array(n);
    for (let j = 0; j < this.numParams; j++) {
      for (let k = 0; k < n; k++) column[k] = this.updates[k]![j]!;
      column.sort();
      out[j] = this.combineSorted(column);
    }
    return { meanDelta: out, totalWeight: this.totalWeight, count: n };
  }

  /** The robust value of one coordinate from its n values, sorted ascending (float64). */
  protected abstract combineSorted(sorted: Float64Array): number;
}
