import { describe, expect, it } from 'vitest';
import { FedAdam } from './fedadam.js';
import { expectClose, run } from './test-support.js';

describe('FedAdam', () => {
  it('matches the hand-computed update over 3 rounds (eta=0.1, beta1=0.9, beta2=0.99, tau=1e-9)', () => {
    // x0 = [0, 1, -1], d1 = [0.1, -0.2, 0]
    // r1: m = 0.1 d1 = [0.01, -0.02, 0]; v = 0.01 d1^2 = [1e-4, 4e-4, 0]; sqrt v = [0.01, 0.02, 0]
    //     step = 0.1 m / (sqrt v + 1e-9) = [0.0999999990, -0.0999999995, 0]  (0 / 1e-9 = 0)
    // r2: d2 = [0.1, 0.2, 0.3]; m = [0.019, 0.002, 0.03]; v = [1.99e-4, 7.96e-4, 9e-4]
    //     step = [0.1346874..., 0.0070888..., 0.0999999967]
    // r3: d3 = [-0.3, 0.1, 0.3]; m = [-0.0129, 0.0118, 0.057]; v = [1.09701e-3, 8.8804e-4, 1.791e-3]
    expectClose(run(new FedAdam({ eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-9 })), [
      [0.09999999, 0.900000005, -1.0],
      [0.234687409404, 0.907088816799, -0.900000003333],
      [0.195739477327, 0.946686130906, -0.765312577564],
    ]);
  });

  it("uses Flower's defaults", () => {
    expect(new FedAdam().params()).toEqual({ eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-9, initialAccumulator: 0 });
  });

  it('starts v at initialAccumulator', () => {
    // v0 = 0.01: r1 v = 0.99 * 0.01 + 0.01 * 0.01 = 0.0100 for d = 0.1; m = 0.01;
    // step = 0.1 * 0.01 / (sqrt(0.01) + 1e-9) = 0.01
    const [r1] = run(new FedAdam({ initialAccumulator: 0.01 }), [[0.1, 0, 0]]);
    expectClose([r1!], [[0.01, 1, -1]]);
  });

  it('checks its options', () => {
    expect(() => new FedAdam({ beta2: 1 })).toThrow(/beta2/);
    expect(() => new FedAdam({ tau: 0 })).toThrow(/tau/);
    expect(() => new FedAdam({ initialAccumulator: -1 })).toThrow(/initialAccumulator/);
    expect(() => new FedAdam(null as unknown as object)).toThrow(TypeError);
  });
});
