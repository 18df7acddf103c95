import { adaptiveParams, type AdaptiveDefaults, type AdaptiveOptions } from './fedadam.js';
import { ServerOptimizerStrategy } from './server-optimizer.js';

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
export class FedYogi extends ServerOptimizerStrategy {
  static readonly defaults: AdaptiveDefaults = { eta: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 };
  readonly name = 'fedyogi';
  protected readonly bufferNames = ['m', 'v'] as const;
  readonly eta: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly tau: number;
  readonly initialAccumulator: number;

  constructor(options?: AdaptiveOptions) {
    super();
    const p = adaptiveParams('FedYogi', options, FedYogi.defaults, true);
    this.eta = p.eta;
    this.beta1 = p.beta1;
    this.beta2 = p.beta2;
    this.tau = p.tau;
    this.initialAccumulator = p.initialAccumulator;
  }

  params(): Record<string, number> {
    return { eta: this.eta, beta1: this.beta1, beta2: this.beta2, tau: this.tau, initialAccumulator: this.initialAccumulator };
  }

  protected override initialValue(buffer: string): number {
    return buffer === 'v' ? this.initialAccumulator : 0;
  }

  protected update(global: Float32Array, delta: Float32Array, next: Float32Array): void {
    const m = this.buffer('m');
    const v = this.buffer('v');
    const { eta, beta1, beta2, tau } = this;
    for (let i = 0; i < next.length; i++) {
      const d = delta[i]!;
      const d2 = d * d;
      const mi = beta1 * m[i]! + (1 - beta1) * d;
      const vPrev = v[i]!;
      // v - (1 - beta2) * d^2 * sign(v - d^2); stays >= 0 because it moves towards d^2 by at most (1 - beta2) d^2.
      const vi = vPrev - (1 - beta2) * d2 * Math.sign(vPrev - d2);
      m[i] = mi;
      v[i] = vi;
      next[i] = global[i]! + (eta * mi) / (Math.sqrt(vi) + tau);
    }
  }
}
