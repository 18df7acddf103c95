import { Command } from 'commander';
import { computeEpsilon, computeSigma, ORDER_GRIDS, planDpQuantization, secAggParameters } from '@flock/privacy';
import { out, UsageError } from '../output.js';
import { int, num, oneOf } from '../parse.js';

const GRIDS = Object.keys(ORDER_GRIDS) as Array<keyof typeof ORDER_GRIDS>;
const CONVERSIONS = ['improved', 'classic'] as const;

interface Common {
  q: number;
  steps: number;
  delta: number;
  orders: keyof typeof ORDER_GRIDS;
  conversion: (typeof CONVERSIONS)[number];
  json?: boolean;
}

function common(cmd: Command): Command {
  return cmd
    .requiredOption('--q <rate>', 'sampling rate per step (0 < q <= 1)', num(0, 1, true))
    .requiredOption('--steps <n>', 'number of steps (rounds)', int(1))
    .requiredOption('--delta <d>', 'target delta (0 < delta < 1)', num(0, 1, true, true))
    .option('--orders <grid>', `RDP order grid: ${GRIDS.join(', ')}`, oneOf(GRIDS), 'dp_accounting_default')
    .option('--conversion <c>', `RDP to (epsilon, delta) conversion: ${CONVERSIONS.join(', ')}`, oneOf(CONVERSIONS), 'improved')
    .option('--json', 'print JSON');
}

export function privacyCommand(): Command {
  const cmd = new Command('privacy').description('plan privacy budgets with the RDP accountant (Poisson-subsampled Gaussian)');
  cmd.addCommand(
    common(new Command('epsilon').description('epsilon spent by T steps at noise multiplier sigma'))
      .requiredOption('--sigma <s>', 'noise multiplier (stddev / clip)', num(0, Infinity, true))
      .option('--secagg <mode>', 'the round runs under secure aggregation in this DP mode (central or distributed): account for the sensitivity its quantization enforces (needs --dimension and --clients)', oneOf(['central', 'distributed'] as const))
      .option('--dimension <d>', 'with --secagg: number of model parameters', int(1))
      .option('--clients <n>', 'with --secagg: cohort size per round', int(3))
      .option('--threshold <t>', 'with --secagg: SecAgg threshold (default: the coordinator\'s choice for the cohort)', int(1))
      .action((f: Common & { sigma: number; secagg?: 'central' | 'distributed'; dimension?: number; clients?: number; threshold?: number }) => {
        let sigma = f.sigma;
        let quantization: Record<string, number> | undefined;
        if (f.secagg) {
          if (f.dimension === undefined || f.clients === undefined) throw new UsageError('--secagg needs --dimension and --clients');
          const t = f.threshold ?? secAggParameters({ cohortSize: f.clients }).t;
          // The coordinator's plan (clip 1: the ratios do not depend on it): noise and accountant use the enforced bound.
          const plan = planDpQuantization({ clip: 1, dimension: f.dimension, cohort: f.clients, minSurvivors: t, noiseMultiplier: f.sigma, distributed: f.secagg === 'distributed' });
          sigma = plan.accountedNoiseMultiplier;
          quantization = { threshold: t, scale: plan.scale, enforcedBound: plan.bound, boundOverClipScale: plan.inflation, accountedNoiseMultiplier: sigma };
        }
        // Distributed mode: a sum of discrete Gaussians, subsampling accounted with the general bound (as the coordinator does).
        const subsampling = f.secagg === 'distributed' ? 'general' : 'gaussian';
        const r = computeEpsilon({ q: f.q, sigma, steps: f.steps, delta: f.delta, orders: f.orders, conversion: f.conversion, subsampling });
        if (f.json) out(JSON.stringify({ epsilon: r.epsilon, order: r.order, subsampling, ...(quantization ? { quantization } : {}) }));
        else
          out(
            `epsilon ${r.epsilon} (order ${r.order})` +
              (quantization ? `; secure aggregation: enforced L2 bound ${quantization.boundOverClipScale} x C*scale, noise calibrated to it, accounted sigma ${sigma}, ${subsampling} subsampling bound` : ''),
          );
      }),
  );
  cmd.addCommand(
    common(new Command('sigma').description('smallest noise multiplier reaching a target epsilon'))
      .requiredOption('--epsilon <e>', 'target epsilon', num(0, Infinity, true))
      .action((f: Common & { epsilon: number }) => {
        const r = computeSigma({ epsilon: f.epsilon, q: f.q, steps: f.steps, delta: f.delta, orders: f.orders, conversion: f.conversion });
        out(f.json ? JSON.stringify({ sigma: r.sigma, epsilon: r.epsilon }) : `sigma ${r.sigma} (epsilon ${r.epsilon})`);
      }),
  );
  return cmd;
}
