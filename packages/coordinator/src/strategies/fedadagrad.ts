import { adaptiveParams, type AdaptiveDefaults, type AdaptiveOptions } from './fedadam.js';
import { ServerOptimizerStrategy } from './server-optimizer.js';

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
export class FedAdagrad extends ServerOptimizerStrategy {
  static readonly defaults: AdaptiveDefaults = { eta: 0.1, beta1: 0, beta2: 0, tau: 1e-9 };
  readonly name = 'fedadagrad';
  protected readonly bufferNames = ['m', 'v'] as const;
  readonly eta: number;
  readonly beta1: number;
  readonly tau: number;
  readonly initialAccumulator: number;

  constructor(options?: FedAdagradOptions) {
    super();
    const p = adaptiveParams('FedAdagrad', options, FedAdagrad.defaults, false);
    this.eta = p.eta;
    this.beta1 = p.beta1;
    this.tau = p.tau;
    this.initialAccumulator = p.initialAccumulator;
  }

  params(): Record<string, number> {
    return { eta: this.eta, beta1: this.beta1, tau: this.tau, initialAccumulator: this.initialAccumulator };
  }

  protected override initialValue(buffer: string): number {
    return buffer === 'v' ? this.initialAccumulator : 0;
  }

  protected update(global: Float32Array, delta: Float32Array, next: Float32Array): void {
    const m = this.buffer('m');
    const v = this.buffer('v');
    const { eta, beta1, tau } = this;
    for (let i = 0; i < next.length; i++) {
      const d = delta[i]!;
      const mi = beta1 * m[i]! + (1 - beta1) * d;
      const vi = v[i]! + d * d;
      m[i] = mi;
      v[i] = vi;
      next[i] = global[i]! + (eta * mi) / (Math.sqrt(vi) + tau);
    }
  }
}
