import { describe, expect, it } from 'vitest';
import { FedAdagrad } from './fedadagrad.js';
import { expectClose, run } from './test-support.js';

describe('FedAdagrad', () => {
  it('matches the hand-computed update over 3 rounds (eta=0.1, beta1=0, tau=0.01)', () => {
    // beta1 = 0: m = d. v accumulates d^2.
    // r1: d = [0.1, -0.2, 0]; v = [0.01, 0.04, 0]; step = 0.1 d / (sqrt v + 0.01)
    //     = [0.01/0.11, -0.02/0.21, 0] = [0.0909090909, -0.0952380952, 0]
    // r2: d = [0.1, 0.2, 0.3]; v = [0.02, 0.08, 0.09]
    //     step = [0.01/(0.141421356+0.01), 0.02/(0.282842712+0.01), 0.03/0.31]
    // r3: d = [-0.3, 0.1, 0.3]; v = [0.11, 0.09, 0.18]
    expectClose(run(new FedAdagrad({ eta: 0.1, tau: 0.01 })), [
      [0.0909090909091, 0.904761904762, -1.0],
      [0.15694997344, 0.973057952941, -0.903225806452],
      [0.0691440191996, 1.00531601746, -0.834143415894],
    ]);
  });

  it('uses beta1 when given (m = beta1 m + (1 - beta1) d)', () => {
    // beta1 = 0.5: r1 m = 0.5 d -> step halves: [0.0454545..., -0.0476190..., 0]
    expectClose(run(new FedAdagrad({ eta: 0.1, tau: 0.01, beta1: 0.5 })), [
      [0.0454545454545, 0.952380952381, -1.0],
      [0.094985207353, 0.969454964426, -0.951612903226],
      [0.0620579745127, 0.993648512813, -0.899801110307],
    ]);
  });

  it("uses Flower's defaults and has no beta2", () => {
    expect(new FedAdagrad().params()).toEqual({ eta: 0.1, beta1: 0, tau: 1e-9, initialAccumulator: 0 });
    expect(() => new FedAdagrad({ beta2: 0.9 } as object)).toThrow(/unknown option "beta2"/);
  });
});
