import { checkKnownKeys, checkNumber, checkOptions } from './checks.js';
import { ServerOptimizerStrategy } from './server-optimizer.js';

export interface FedAvgMOptions {
  /** Server learning rate (default 1, as in Flower). The effective step is eta / (1 - momentum). */
  eta?: number;
  /** Server momentum beta in [0, 1) (default 0.9; 0 makes FedAvgM with eta = 1 exactly FedAvg). */
  momentum?: number;
}

/**
 * FedAvgM (Hsu et al. 2019, "Measuring the Effects of Non-Identical Data Distribution"): FedAvg
 * with heavy-ball momentum on the server. With d_t the round's mean delta:
 *
 *     v_t = momentum * v_{t-1} + d_t        (v_0 = 0)
 *     x_{t+1} = x_t + eta * v_t
 *
 * Same update as Flower's FedAvgM (which writes it with the opposite-sign pseudo-gradient).
 */
export class FedAvgM extends ServerOptimizerStrategy {
  readonly name = 'fedavgm';
  protected readonly bufferNames = ['velocity'] as const;
  readonly eta: number;
  readonly momentum: number;

  constructor(options?: FedAvgMOptions) {
    super();
    const o = checkOptions('FedAvgM options', options);
    checkKnownKeys('FedAvgM', o, ['eta', 'momentum']);
    this.eta = checkNumber('eta', o.eta, 1, { above: 0 });
    this.momentum = checkNumber('momentum', o.momentum, 0.9, { min: 0, below: 1 });
  }

  params(): Record<string, number> {
    return { eta: this.eta, momentum: this.momentum };
  }

  protected update(global: Float32Array, delta: Float32Array, next: Float32Array): void {
    const v = this.buffer('velocity');
    const { eta, momentum } = this;
    for (let i = 0; i < next.length; i++) {
      const vi = momentum * v[i]! + delta[i]!;
      v[i] = vi;
      next[i] = global[i]! + eta * vi;
    }
  }
}
