import { Command } from 'commander';
import { computeEpsilon, computeSigma, ORDER_GRIDS } from '@flock/privacy';
import { out } from '../output.js';
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
      .action((f: Common & { sigma: number }) => {
        const r = computeEpsilon({ q: f.q, sigma: f.sigma, steps: f.steps, delta: f.delta, orders: f.orders, conversion: f.conversion });
        out(f.json ? JSON.stringify({ epsilon: r.epsilon, order: r.order }) : `epsilon ${r.epsilon} (order ${r.order})`);
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
