import { AdaptiveServerOptimizer, type AdaptiveDefaults, type AdaptiveOptions } from './adaptive.js';

/**
 * FedYogi (Reddi et al. 2021, Algorithm 2): FedAdam with Yogi's additive second moment, which
 * grows v slowly and never lets it collapse after one large round:
 *
 *     m_t = beta1 * m_{t-1} + (1 - beta1) * d_t
 *     v_t = v_{t-1} - (1 - beta2) * d_t^2 * sign(v_{t-1} - d_t^2)
 *     x_{t+1} = x_t + eta * m_t / (sqrt(v_t) + tau)
 *
 * Defaults are Flower's FedYogi: eta = 0.01, beta1 = 0.9, beta2 = 0.99, tau = 1e-3, m_0 = v_0 = 0.
 */
export class FedYogi extends AdaptiveServerOptimizer {
  static readonly defaults: AdaptiveDefaults = { eta: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 };
  readonly name = 'fedyogi';

  constructor(options?: AdaptiveOptions) {
    super('FedYogi', options, FedYogi.defaults, true);
  }

  // v - (1 - beta2) * d^2 * sign(v - d^2); stays >= 0 because it moves towards d^2 by at most (1 - beta2) d^2.
  protected secondMoment(vPrev: number, d2: number): number {
    return vPrev - (1 - this.beta2) * d2 * Math.sign(vPrev - d2);
  }
}
