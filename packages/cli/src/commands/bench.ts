import { Command } from 'commander';
import { out, UsageError } from '../output.js';

type Suite = (opts: { quick?: boolean }) => AsyncGenerator<Record<string, unknown>>;

/** Benchmark suites; each yields one JSON object per configuration, machine included. */
const SUITES: Record<string, () => Promise<Suite>> = {
  secagg: async () => (await import('../bench/secagg.js')).benchSecAgg,
  dp: async () => (await import('../bench/dp.js')).benchDp,
  train: async () => {
    const [{ benchTrain }, { benchSdkOverhead, benchSimWorkers }] = await Promise.all([import('../bench/train.js'), import('../bench/sdk-overhead.js')]);
    return async function* (opts) {
      yield* benchTrain(opts);
      yield* benchSdkOverhead(opts);
      yield* benchSimWorkers(opts);
    };
  },
};

export function benchCommand(): Command {
  return new Command('bench')
    .description(`run a benchmark suite: ${Object.keys(SUITES).join(', ')}`)
    .argument('<suite>', `one of ${Object.keys(SUITES).join(', ')}`)
    .option('--json', 'one JSON line per result (the default output format too)')
    .option('--quick', 'a smaller grid for a fast look')
    .action(async (suite: string, f: { json?: boolean; quick?: boolean }) => {
      const load = SUITES[suite];
      if (!load) throw new UsageError(`unknown suite '${suite}'; choose one of ${Object.keys(SUITES).join(', ')}`);
      const run = await load();
      for await (const line of run({ quick: f.quick === true })) out(JSON.stringify({ suite, ...line }));
    });
}
