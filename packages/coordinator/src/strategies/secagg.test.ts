import { describe, expect, it } from 'vitest';
import { FedAvg, type Strategy } from '../strategy.js';
import type { UpdateAggregator } from '../aggregator.js';
import { CoordinateMedianAggregator, FedMedian } from './median.js';
import { FedTrimmedMean } from './trimmed-mean.js';
import { FedAvgM } from './fedavgm.js';
import { FedAdam } from './fedadam.js';
import { FedYogi } from './fedyogi.js';
import { FedAdagrad } from './fedadagrad.js';
import { FedProx } from './fedprox.js';
import { StrategyConfigError } from './errors.js';
import { assertSecAggCompatible, needsIndividualUpdates } from './secagg.js';

describe('assertSecAggCompatible', () => {
  it('accepts strategies that only use the weighted mean', () => {
    for (const s of [new FedAvg(), new FedProx(), new FedAvgM(), new FedAdam(), new FedYogi(), new FedAdagrad()]) {
      expect(() => assertSecAggCompatible(s)).not.toThrow();
      expect(needsIndividualUpdates(s)).toBe(false);
    }
  });

  it('refuses median and trimmed mean, saying why', () => {
    for (const s of [new FedMedian(), new FedTrimmedMean()]) {
      let err: unknown;
      try {
        assertSecAggCompatible(s);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(StrategyConfigError);
      const e = err as StrategyConfigError;
      expect(e.code).toBe('STRATEGY_INCOMPATIBLE');
      expect(e.message).toContain(s.name);
      expect(e.message).toMatch(/reveals only the sum/);
      expect(e.message).toMatch(/each client's update/);
    }
  });

  it("asks a custom strategy's aggregator when the strategy does not declare it", () => {
    class Custom extends FedAvg {
      override readonly name: string = 'custom-median';
      override createAggregator(n: number): UpdateAggregator {
        return new CoordinateMedianAggregator(n);
      }
    }
    expect(() => assertSecAggCompatible(new Custom())).toThrow(/custom-median/);
  });

  it('checks its argument', () => {
    expect(() => assertSecAggCompatible(undefined as unknown as Strategy)).toThrow(TypeError);
    expect(() => assertSecAggCompatible({ name: 'x' } as unknown as Strategy)).toThrow(TypeError);
  });
});
