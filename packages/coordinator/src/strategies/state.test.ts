import { describe, expect, it } from 'vitest';
import { FedAdagrad } from './fedadagrad.js';
import { FedAdam } from './fedadam.js';
import { FedAvgM } from './fedavgm.js';
import { FedYogi } from './fedyogi.js';
import { StrategyConfigError } from './errors.js';
import { isStatefulStrategy, type ServerOptimizerStrategy } from './server-optimizer.js';
import { FedAvg } from '../strategy.js';
import { FedMedian } from './median.js';
import { createStrategy } from './create.js';
import { aggregate, ctx, DELTAS, X0 } from './test-support.js';

const makers: Array<[string, () => ServerOptimizerStrategy]> = [
  ['fedavgm', () => new FedAvgM({ momentum: 0.7 })],
  ['fedadam', () => new FedAdam()],
  ['fedyogi', () => new FedYogi()],
  ['fedadagrad', () => new FedAdagrad({ beta1: 0.3 })],
];

describe.each(makers)('%s state()/restoreState()', (_name, make) => {
  it('a restored strategy takes bit-identical next steps', () => {
    const a = make();
    let x: Float32Array = Float32Array.from(X0);
    x = a.aggregateFit(x, aggregate(DELTAS[0]!), ctx(1));
    x = a.aggregateFit(x, aggregate(DELTAS[1]!), ctx(2));
    const saved = JSON.parse(JSON.stringify(a.state())) as unknown; // through JSON, as persistence will
    const b = make();
    b.restoreState(saved);
    expect(b.step).toBe(2);
    const nextA = a.aggregateFit(x, aggregate(DELTAS[2]!), ctx(3));
    const nextB = b.aggregateFit(x, aggregate(DELTAS[2]!), ctx(3));
    expect(Buffer.from(nextB.buffer)).toEqual(Buffer.from(nextA.buffer));
    expect(b.state()).toEqual(a.state());
  });

  it('round-trips the state before the first step', () => {
    const s = make().state();
    expect(s.numParams).toBeNull();
    const b = make();
    b.restoreState(JSON.parse(JSON.stringify(s)));
    expect(b.step).toBe(0);
    expect(b.aggregateFit(Float32Array.from(X0), aggregate(DELTAS[0]!), ctx(1))).toEqual(make().aggregateFit(Float32Array.from(X0), aggregate(DELTAS[0]!), ctx(1)));
  });
});

describe('restoreState validation', () => {
  function stepped(): FedAdam {
    const s = new FedAdam();
    s.aggregateFit(Float32Array.from(X0), aggregate(DELTAS[0]!), ctx(1));
    return s;
  }

  it('refuses another strategy, garbage, wrong sizes and missing buffers, and changes nothing', () => {
    const s = stepped();
    const before = JSON.stringify(s.state());
    const good = s.state();
    const bad: unknown[] = [
      null,
      'x',
      { ...good, format: 'other' },
      { ...good, strategy: 'fedyogi' },
      { ...good, numParams: 4 },
      { ...good, buffers: { m: good.buffers.m } },
      { ...good, buffers: { ...good.buffers, extra: good.buffers.m } },
      { ...good, buffers: { ...good.buffers, v: '@@@' } },
      { ...good, step: -1 },
      { ...good, numParams: null },
    ];
    for (const b of bad) {
      expect(() => s.restoreState(b)).toThrow(StrategyConfigError);
    }
    expect(JSON.stringify(s.state())).toBe(before);
    // FedYogi refuses a FedAdam state with a message naming both.
    expect(() => new FedYogi().restoreState(good)).toThrow(/"fedadam", not "fedyogi"/);
  });

  it('refuses non-finite saved values', () => {
    const s = stepped();
    const good = s.state();
    const nan = new Float64Array(3).fill(Number.NaN);
    const text = Buffer.from(nan.buffer).toString('base64');
    expect(() => new FedAdam().restoreState({ ...good, buffers: { ...good.buffers, v: text } })).toThrow(/finite/);
  });

  it('keeps its own hyper-parameters and records the saved ones', () => {
    const s = stepped();
    expect(s.state().params.eta).toBe(0.1);
    const t = new FedAdam({ eta: 0.5 });
    t.restoreState(s.state());
    expect(t.eta).toBe(0.5);
    expect(t.state().params.eta).toBe(0.5);
  });
});

describe('isStatefulStrategy', () => {
  it('is true for the server optimizers only', () => {
    for (const n of ['fedavgm', 'fedadam', 'fedyogi', 'fedadagrad']) expect(isStatefulStrategy(createStrategy(n))).toBe(true);
    for (const s of [new FedAvg(), new FedMedian(), createStrategy('fedprox'), createStrategy('trimmed-mean')]) expect(isStatefulStrategy(s)).toBe(false);
  });
});
