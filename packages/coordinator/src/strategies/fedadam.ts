import { AdaptiveServerOptimizer, type AdaptiveDefaults, type AdaptiveOptions } from './adaptive.js';

export { adaptiveParams } from './adaptive.js';
export type { AdaptiveDefaults, AdaptiveOptions } from './adaptive.js';

/**
 * FedAdam (Reddi et al. 2021, "Adaptive Federated Optimization", Algorithm 2). With d_t the
 * round's mean delta (the pseudo-gradient):
 *
 *     m_t = beta1 * m_{t-1} + (1 - beta1) * d_t
 *     v_t = beta2 * v_{t-1} + (1 - beta2) * d_t^2
 *     x_{t+1} = x_t + eta * m_t / (sqrt(v_t) + tau)
 *
 * No bias correction (as in the paper and Flower's FedAdam). Defaults are Flower's:
 * eta = 0.1, beta1 = 0.9, beta2 = 0.99, tau = 1e-9, m_0 = v_0 = 0.
 */
export class FedAdam extends AdaptiveServerOptimizer {
  static readonly defaults: AdaptiveDefaults = { eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-9 };
  readonly name = 'fedadam';

  constructor(options?: AdaptiveOptions) {
    super('FedAdam', options, FedAdam.defaults, true);
  }

  protected secondMoment(vPrev: number, d2: number): number {
    return this.beta2 * vPrev + (1 - this.beta2) * d2;
  }
}
