import { AdaptiveServerOptimizer, type AdaptiveDefaults, type AdaptiveOptions } from './adaptive.js';

/** FedAdagrad options: no beta2 (the accumulator never decays). */
export type FedAdagradOptions = Omit<AdaptiveOptions, 'beta2'>;

/**
 * FedAdagrad (Reddi et al. 2021, Algorithm 2):
 *
 *     m_t = beta1 * m_{t-1} + (1 - beta1) * d_t      (beta1 = 0 by default: m_t = d_t)
 *     v_t = v_{t-1} + d_t^2
 *     x_{t+1} = x_t + eta * m_t / (sqrt(v_t) + tau)
 *
 * Defaults are Flower's FedAdagrad: eta = 0.1, beta1 = 0, tau = 1e-9, v_0 = 0. The server step
 * shrinks as v accumulates; raise eta if training stalls after many rounds.
 */
export class FedAdagrad extends AdaptiveServerOptimizer {
  static readonly defaults: AdaptiveDefaults = { eta: 0.1, beta1: 0, beta2: 0, tau: 1e-9 };
  readonly name = 'fedadagrad';

  constructor(options?: FedAdagradOptions) {
    super('FedAdagrad', options, FedAdagrad.defaults, false);
  }

  protected secondMoment(vPrev: number, d2: number): number {
    return vPrev + d2;
  }
}
