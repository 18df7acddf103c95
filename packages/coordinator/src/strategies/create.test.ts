import { describe, expect, it } from 'vitest';
import { FedAvg } from '../strategy.js';
import { createStrategy, describeStrategies, parseStrategySpec, STRATEGY_NAMES, STRATEGY_PARAMETERS } from './create.js';
import { StrategyConfigError } from './errors.js';
import { FedAdagrad } from './fedadagrad.js';
import { FedAdam } from './fedadam.js';
import { FedAvgM } from './fedavgm.js';
import { FedProx } from './fedprox.js';
import { FedYogi } from './fedyogi.js';
import { FedMedian } from './median.js';
import { FedTrimmedMean } from './trimmed-mean.js';
import type { ServerOptimizerStrategy } from './server-optimizer.js';

function errorOf(f: () => unknown): StrategyConfigError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(StrategyConfigError);
    return e as StrategyConfigError;
  }
  throw new Error('expected an error');
}

describe('createStrategy', () => {
  it('builds every named strategy', () => {
    expect(STRATEGY_NAMES).toEqual(['fedavg', 'fedprox', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad', 'median', 'trimmed-mean']);
    const classes = [FedAvg, FedProx, FedAvgM, FedAdam, FedYogi, FedAdagrad, FedMedian, FedTrimmedMean];
    STRATEGY_NAMES.forEach((name, i) => {
      const s = createStrategy(name);
      expect(s).toBeInstanceOf(classes[i]!);
      expect(s.name).toBe(name);
    });
  });

  it('applies parameters from the CLI form', () => {
    expect((createStrategy('fedavgm:momentum=0.9') as FedAvgM).params()).toEqual({ eta: 1, momentum: 0.9 });
    expect((createStrategy('fedadam:eta=0.01') as FedAdam).eta).toBe(0.01);
    expect((createStrategy('fedyogi:eta=1e-3, beta1=0.5 ,tau=.01') as FedYogi).params()).toEqual({ eta: 1e-3, beta1: 0.5, beta2: 0.99, tau: 0.01, initialAccumulator: 0 });
    expect((createStrategy('fedprox:mu=0.01') as FedProx).mu).toBe(0.01);
    expect((createStrategy('trimmed-mean:beta=0.1') as FedTrimmedMean).beta).toBe(0.1);
    expect((createStrategy('fedadagrad:initialAccumulator=0.1') as FedAdagrad).initialAccumulator).toBe(0.1);
  });

  it('accepts the object form, any case, _ for -, and Flower aliases', () => {
    expect((createStrategy({ name: 'fedadam', eta: 0.01, beta2: 0.999 }) as FedAdam).params()).toMatchObject({ eta: 0.01, beta2: 0.999 });
    expect(createStrategy('FedAdam')).toBeInstanceOf(FedAdam);
    expect(createStrategy('Trimmed_Mean:beta=0.2')).toBeInstanceOf(FedTrimmedMean);
    expect(createStrategy('fedmedian')).toBeInstanceOf(FedMedian);
    expect(createStrategy('fedtrimmedavg')).toBeInstanceOf(FedTrimmedMean);
  });

  it('lists the valid names for an unknown name', () => {
    const e = errorOf(() => createStrategy('fedsgd'));
    expect(e.code).toBe('STRATEGY_INVALID');
    expect(e.message).toContain('unknown strategy "fedsgd"');
    for (const n of STRATEGY_NAMES) expect(e.message).toContain(n);
    expect(errorOf(() => createStrategy('')).message).toContain('fedavg');
    expect(errorOf(() => createStrategy({ eta: 1 })).message).toMatch(/needs a name/);
  });

  it('lists the valid parameters for an unknown or misspelt one', () => {
    const e = errorOf(() => createStrategy('fedadam:lr=0.1'));
    expect(e.message).toContain('"lr"');
    for (const p of ['eta', 'beta1', 'beta2', 'tau']) expect(e.message).toContain(p);
    expect(errorOf(() => createStrategy('median:beta=0.1')).message).toMatch(/valid parameters: none/);
    expect(errorOf(() => createStrategy({ name: 'fedadagrad', beta2: 0.9 })).message).toContain('"beta2"');
  });

  it('rejects malformed or out-of-range values with the reason', () => {
    expect(errorOf(() => createStrategy('fedavgm:momentum=1')).message).toMatch(/momentum must be < 1/);
    expect(errorOf(() => createStrategy('trimmed-mean:beta=0.5')).message).toMatch(/beta must be < 0.5/);
    expect(errorOf(() => createStrategy('fedadam:eta=0')).message).toMatch(/eta must be > 0/);
    expect(errorOf(() => createStrategy('fedprox:mu=-1')).message).toMatch(/mu must be >= 0/);
    expect(errorOf(() => createStrategy('fedadam:eta=abc')).message).toMatch(/not a number/);
    expect(errorOf(() => createStrategy('fedadam:eta=')).message).toMatch(/key=value/);
    expect(errorOf(() => createStrategy('fedadam:eta')).message).toMatch(/key=value/);
    expect(errorOf(() => createStrategy('fedadam:eta=1,eta=2')).message).toMatch(/twice/);
    expect(errorOf(() => createStrategy('fedadam:eta=Infinity')).message).toMatch(/not a number/);
    expect(errorOf(() => createStrategy({ name: 'fedadam', eta: '0.1' })).message).toMatch(/eta must be a number/);
    expect(errorOf(() => createStrategy({ name: 'fedadam', eta: Number.POSITIVE_INFINITY })).message).toMatch(/eta/);
  });

  it('throws TypeError for a spec that is neither a string nor an object', () => {
    expect(() => createStrategy(42 as unknown as string)).toThrow(TypeError);
    expect(() => createStrategy(null as unknown as string)).toThrow(TypeError);
    expect(() => createStrategy([] as unknown as object)).toThrow(TypeError);
  });

  it('parseStrategySpec returns the validated spec; the table defaults match the classes', () => {
    expect(parseStrategySpec('fedadam:eta=0.01')).toEqual({ name: 'fedadam', params: { eta: 0.01 } });
    for (const name of ['fedavgm', 'fedadam', 'fedyogi', 'fedadagrad'] as const) {
      const defaults = Object.fromEntries(Object.entries(STRATEGY_PARAMETERS[name]).map(([k, p]) => [k, p.default]));
      expect((createStrategy(name) as ServerOptimizerStrategy).params()).toEqual(defaults);
    }
    expect((createStrategy('fedprox') as FedProx).mu).toBe(STRATEGY_PARAMETERS.fedprox.mu!.default);
    expect((createStrategy('trimmed-mean') as FedTrimmedMean).beta).toBe(STRATEGY_PARAMETERS['trimmed-mean'].beta!.default);
    expect(describeStrategies()).toContain('fedadam:eta=0.1,beta1=0.9,beta2=0.99,tau=1e-9');
  });
});
