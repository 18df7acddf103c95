import { checkKnownKeys, checkNumber, checkOptions } from './checks.js';
import { ServerOptimizerStrategy } from './server-optimizer.js';

export interface AdaptiveOptions {
  /** Server learning rate. */
  eta?: number;
  /** First-moment (momentum) decay in [0, 1). */
  beta1?: number;
  /** Second-moment decay in [0, 1) (FedAdam, FedYogi). */
  beta2?: number;
  /** Adaptivity / denominator offset, > 0. */
  tau?: number;
  /** Starting value of the second-moment buffer v (>= 0; default 0 as in Flower; the paper asks for v_{-1} >= tau^2). */
  initialAccumulator?: number;
}

export interface AdaptiveDefaults {
  eta: number;
  beta1: number;
  beta2: number;
  tau: number;
}

/** Shared option parsing for FedAdam / FedYogi / FedAdagrad. */
export function adaptiveParams(strategy: string, options: unknown, defaults: AdaptiveDefaults, withBeta2: boolean): Required<AdaptiveOptions> {
  const o = checkOptions(`${strategy} options`, options);
  checkKnownKeys(strategy, o, withBeta2 ? ['eta', 'beta1', 'beta2', 'tau', 'initialAccumulator'] : ['eta', 'beta1', 'tau', 'initialAccumulator']);
  return {
    eta: checkNumber('eta', o.eta, defaults.eta, { above: 0 }),
    beta1: checkNumber('beta1', o.beta1, defaults.beta1, { min: 0, below: 1 }),
    beta2: withBeta2 ? checkNumber('beta2', o.beta2, defaults.beta2, { min: 0, below: 1 }) : defaults.beta2,
    tau: checkNumber('tau', o.tau, defaults.tau, { above: 0 }),
    initialAccumulator: checkNumber('initialAccumulator', o.initialAccumulator, 0, { min: 0 }),
  };
}

/**
 * The adaptive server optimizers of Reddi et al. 2021 (Algorithm 2) share everything but the
 * second-moment rule: with d_t the round's mean delta,
 *
 *     m_t = beta1 * m_{t-1} + (1 - beta1) * d_t
 *     v_t = secondMoment(v_{t-1}, d_t^2)
 *     x_{t+1} = x_t + eta * m_t / (sqrt(v_t) + tau)
 */
export abstract class AdaptiveServerOptimizer extends ServerOptimizerStrategy {
  protected readonly bufferNames = ['m', 'v'] as const;
  readonly eta: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly tau: number;
  readonly initialAccumulator: number;

  constructor(label: string, options: unknown, defaults: AdaptiveDefaults, private readonly withBeta2: boolean) {
    super();
    const p = adaptiveParams(label, options, defaults, withBeta2);
    this.eta = p.eta;
    this.beta1 = p.beta1;
    this.beta2 = p.beta2;
    this.tau = p.tau;
    this.initialAccumulator = p.initialAccumulator;
  }

  /** v_t from v_{t-1} and d_t^2. */
  protected abstract secondMoment(vPrev: number, d2: number): number;

  params(): Record<string, number> {
    return this.withBeta2
      ? { eta: this.eta, beta1: this.beta1, beta2: this.beta2, tau: this.tau, initialAccumulator: this.initialAccumulator }
      : { eta: this.eta, beta1: this.beta1, tau: this.tau, initialAccumulator: this.initialAccumulator };
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
      const vi = this.secondMoment(v[i]!, d * d);
      m[i] = mi;
      v[i] = vi;
      next[i] = global[i]! + (eta * mi) / (Math.sqrt(vi) + tau);
    }
  }
}
