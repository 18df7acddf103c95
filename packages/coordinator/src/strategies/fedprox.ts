import type { TrainConfig } from '@flock/protocol';
import { FedAvg, type FitContext } from '../strategy.js';
import { checkKnownKeys, checkNumber, checkOptions } from './checks.js';

export interface FedProxOptions {
  /** Proximal coefficient mu >= 0 (default 0.01; 0 is plain FedAvg). Li et al. tune mu in {0.001, 0.01, 0.1, 1}. */
  mu?: number;
}

/**
 * FedProx (Li et al. 2020, "Federated Optimization in Heterogeneous Networks"): clients minimise
 * their task loss plus (mu / 2) * ||w - w_global||^2, which keeps heterogeneous clients from
 * drifting far from the global model. The server side is FedAvg; this strategy only adds
 * `proximalMu` to each round's TrainConfig (clients train it with `fitProximal` from @flock/client).
 * Aggregation is the weighted mean, so FedProx runs under secure aggregation.
 */
export class FedProx extends FedAvg {
  override readonly name: string = 'fedprox';
  readonly mu: number;

  constructor(options?: FedProxOptions) {
    super();
    const o = checkOptions('FedProx options', options);
    checkKnownKeys('FedProx', o, ['mu']);
    this.mu = checkNumber('mu', o.mu, 0.01, { min: 0 });
  }

  override configureFit(ctx: FitContext): TrainConfig {
    if (!ctx || typeof ctx !== 'object' || !ctx.config) throw new TypeError('ctx.config is required');
    return { ...ctx.config, proximalMu: this.mu };
  }
}
