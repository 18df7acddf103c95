import { describe, expect, it } from 'vitest';
import { FedYogi } from './fedyogi.js';
import { expectClose, run } from './test-support.js';

describe('FedYogi', () => {
  it('matches the hand-computed update over 3 rounds (defaults: eta=0.01, beta1=0.9, beta2=0.99, tau=1e-3)', () => {
    // r1: d = [0.1, -0.2, 0]; m = [0.01, -0.02, 0]
    //     v = 0 - 0.01 d^2 sign(0 - d^2) = [1e-4, 4e-4, 0]   (sign(0 - 0) = 0 keeps v = 0)
    //     step = 0.01 m / (sqrt v + 1e-3) = [0.01*0.01/0.011, -0.01*0.02/0.021, 0]
    //          = [0.00909090909, -0.00952380952, 0]
    // r2: d = [0.1, 0.2, 0.3]; d^2 = [0.01, 0.04, 0.09] > v, so v += 0.01 d^2:
    //     v = [2e-4, 8e-4, 9e-4]; m = [0.019, 0.002, 0.03]
    // r3: d = [-0.3, 0.1, 0.3]; v = [1.1e-3, 9e-4, 1.8e-3]; m = [-0.0129, 0.0118, 0.057]
    expectClose(run(new FedYogi()), [
      [0.00909090909091, 0.990476190476, -1.0],
      [0.0216386767719, 0.991159150958, -0.990322580645],
      [0.0178630207395, 0.994965602571, -0.977196926439],
    ]);
  });

  it('shrinks v towards d^2 when v is larger (sign(v - d^2) = +1)', () => {
    // v0 = 1 (initialAccumulator); d = 0.1: v1 = 1 - 0.01 * 0.01 * 1 = 0.9999
    // m = 0.01; step = 0.01 * 0.01 / (sqrt(0.9999) + 1e-3) = 9.99050...e-5
    const s = new FedYogi({ initialAccumulator: 1 });
    const [r1] = run(s, [[0.1, 0, 0]]);
    expectClose([r1!], [[0.0001 / (Math.sqrt(0.9999) + 1e-3), 1, -1]], 1e-9);
  });

  it("uses Flower's defaults", () => {
    expect(new FedYogi().params()).toEqual({ eta: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3, initialAccumulator: 0 });
  });
});
