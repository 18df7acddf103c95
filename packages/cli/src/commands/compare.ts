import { Command } from 'commander';
import { compareRuns, PLOT_METRICS, RunDirError, type PlotMetric } from '@flock/sim';
import { err, out, UsageError } from '../output.js';
import { oneOf } from '../parse.js';

interface CompareFlags {
  out?: string;
  metric: PlotMetric;
  json?: boolean;
}

/** `flock compare RUN_DIR...`: a table of runs and an overlay plot of their curves. */
export function compareCommand(): Command {
  return new Command('compare')
    .description('compare simulation runs: a table of final / best accuracy and an overlay plot (SVG + PNG)')
    .argument('<run-dirs...>', "run directories written by 'flock sim --out DIR'")
    .option('--out <file>', 'overlay plot path; FILE.svg and FILE.png are written (default: compare-METRIC.svg in the current directory)')
    .option('--metric <name>', `metric to plot: ${PLOT_METRICS.join(', ')}`, oneOf(PLOT_METRICS), 'accuracy')
    .option('--json', 'print one JSON object per run instead of the table')
    .action(async (dirs: string[], f: CompareFlags) => {
      let result;
      try {
        result = await compareRuns(dirs, { metric: f.metric, out: f.out ?? `compare-${f.metric}.svg` });
      } catch (e) {
        if (e instanceof RunDirError) throw new UsageError(e.message);
        throw e;
      }
      if (f.json) {
        for (const r of result.rows) out(JSON.stringify(r));
        if (result.plot) err(`plot: ${result.plot.svg}, ${result.plot.png}`);
      } else {
        out(result.table);
        if (result.plot) out(`plot: ${result.plot.svg}, ${result.plot.png}`);
      }
    });
}
