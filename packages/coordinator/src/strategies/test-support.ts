// Shared fixtures for the strategy tests (not part of the public API).
import type { TrainConfig } from '@flock/protocol';
import type { AggregateResult } from '../aggregator.js';
import type { FitContext, Strategy } from '../strategy.js';

export const CONFIG: TrainConfig = { epochs: 1, batchSize: 32, learningRate: 0.1 };

export function ctx(round: number): FitContext {
  return { round, modelVersion: round - 1, config: CONFIG };
}

export function aggregate(meanDelta: number[]): AggregateResult {
  return { meanDelta: Float32Array.from(meanDelta), totalWeight: 10, count: 2 };
}

/** The 3-parameter model and the three rounds of mean deltas every optimizer test uses. */
export const X0 = [0, 1, -1];
export const DELTAS = [
  [0.1, -0.2, 0],
  [0.1, 0.2, 0.3],
  [-0.3, 0.1, 0.3],
];

/** Runs the strategy for the DELTAS rounds from X0 and returns the weights after each round. */
export function run(strategy: Strategy, deltas: number[][] = DELTAS, x0: number[] = X0): number[][] {
  let x: Float32Array = Float32Array.from(x0);
  const out: number[][] = [];
  deltas.forEach((d, i) => {
    x = strategy.aggregateFit(x, aggregate(d), ctx(i + 1));
    out.push([...x]);
  });
  return out;
}

/** Element-wise closeness with an absolute tolerance (float32 weights: ~1e-7 per round). */
export function expectClose(actual: number[][], expected: number[][], tol = 2e-6): void {
  if (actual.length !== expected.length) throw new Error(`expected ${expected.length} rounds, got ${actual.length}`);
  actual.forEach((row, r) =>
    row.forEach((v, i) => {
      const e = expected[r]![i]!;
      if (!(Math.abs(v - e) <= tol)) throw new Error(`round ${r + 1} param ${i}: got ${v}, expected ${e} (tol ${tol})`);
    }),
  );
}
