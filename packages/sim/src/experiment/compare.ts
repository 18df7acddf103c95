/** `flock compare`: a table of several runs and an overlay plot of their curves. */
import { bestAccuracy, PLOT_METRICS, readRun, type PlotMetric, type RunData } from './metrics.js';
import { plotRunData, runNames, type PlotFiles } from './plot.js';

/** One row of the comparison table. */
export interface CompareRow {
  name: string;
  dir: string;
  rounds: number;
  finalAccuracy: number | null;
  bestAccuracy: number | null;
  bestRound: number | null;
  finalLoss: number | null;
  /** From summary.json; null for a run that has not finished. */
  wallSeconds: number | null;
  /** 'finished', 'failed' or 'incomplete' (no summary.json). */
  status: string;
  /** Settings that differ between the compared runs (config.json values). */
  differs: Record<string, unknown>;
}

export interface CompareOptions {
  /** Overlay plot path (OUT.svg and OUT.png are written); none when undefined. */
  out?: string;
  metric?: PlotMetric;
}

export interface CompareResult {
  rows: CompareRow[];
  /** The table as text. */
  table: string;
  plot?: PlotFiles;
}

/** Config keys whose values are not the same in every run (keys absent in a run count as differing). */
export function differingKeys(configs: readonly (Record<string, unknown> | null)[]): string[] {
  const keys = new Set<string>();
  for (const c of configs) for (const k of Object.keys(c ?? {})) keys.add(k);
  return [...keys].filter((k) => new Set(configs.map((c) => JSON.stringify(c?.[k] ?? null))).size > 1);
}

const fmt = (v: number | null, digits: number): string => (v === null ? '-' : v.toFixed(digits));

/** The comparison table: one row per run, columns for the settings that differ. */
export function formatCompareTable(rows: readonly CompareRow[]): string {
  const diffKeys = [...new Set(rows.flatMap((r) => Object.keys(r.differs)))];
  const header = ['run', ...diffKeys, 'rounds', 'final acc', 'best acc (round)', 'final loss', 'wall s', 'status'];
  const body = rows.map((r) => [
    r.name,
    ...diffKeys.map((k) => (r.differs[k] === undefined || r.differs[k] === null ? '-' : typeof r.differs[k] === 'string' ? (r.differs[k] as string) : JSON.stringify(r.differs[k]))),
    String(r.rounds),
    fmt(r.finalAccuracy, 4),
    r.bestAccuracy === null ? '-' : `${r.bestAccuracy.toFixed(4)} (${r.bestRound})`,
    fmt(r.finalLoss, 4),
    fmt(r.wallSeconds, 1),
    r.status,
  ]);
  const all = [header, ...body];
  const widths = header.map((_, j) => Math.max(...all.map((row) => row[j]!.length)));
  const numeric = (j: number) => j > diffKeys.length && j < header.length - 1;
  return all.map((row) => row.map((c, j) => (numeric(j) ? c.padStart(widths[j]!) : c.padEnd(widths[j]!))).join('  ').trimEnd()).join('\n');
}

/** Table rows of runs already read. */
export function compareRows(runs: readonly RunData[]): CompareRow[] {
  const names = runNames(runs);
  // `rounds` has its own column (the rounds actually run).
  const diff = differingKeys(runs.map((r) => r.config)).filter((k) => k !== 'rounds');
  return runs.map((r, i) => {
    const last = r.metrics[r.metrics.length - 1];
    const best = bestAccuracy(r.metrics);
    const wall = r.summary && typeof r.summary.wallSeconds === 'number' ? r.summary.wallSeconds : null;
    const differs: Record<string, unknown> = {};
    for (const k of diff) differs[k] = r.config?.[k] ?? null;
    return {
      name: names[i]!,
      dir: r.dir,
      rounds: r.metrics.length,
      finalAccuracy: last?.accuracy ?? null,
      bestAccuracy: best.accuracy,
      bestRound: best.round,
      finalLoss: last?.loss ?? null,
      wallSeconds: wall,
      status: r.summary?.status ?? 'incomplete',
      differs,
    };
  });
}

/**
 * Reads run directories, builds the table and (with `out`) writes the overlay plot.
 * @throws RunDirError naming a directory that is not a run directory.
 */
export async function compareRuns(runDirs: readonly string[], options: CompareOptions = {}): Promise<CompareResult> {
  if (!Array.isArray(runDirs) || runDirs.length === 0) throw new TypeError('give at least one run directory');
  const metric = options.metric ?? 'accuracy';
  if (!(PLOT_METRICS as readonly string[]).includes(metric)) throw new RangeError(`metric must be one of ${PLOT_METRICS.join(', ')}; got '${String(metric)}'`);
  const runs: RunData[] = [];
  for (const d of runDirs) runs.push(await readRun(d)); // in order, so the first bad directory is the one named
  const rows = compareRows(runs);
  const plot = options.out !== undefined ? await plotRunData(runs, options.out, { metric }) : undefined;
  return { rows, table: formatCompareTable(rows), ...(plot ? { plot } : {}) };
}
