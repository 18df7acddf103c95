/**
 * A run directory: everything one simulation leaves behind, as plain files.
 *
 *   config.json     the resolved settings (same keys as a --config file: rerun with it)
 *   partition.json  label x client counts of the data split; partition.txt the same as a table
 *   metrics.jsonl   one JSON object per committed round, appended as rounds finish
 *   summary.json    final figures, status, timings (written at the end)
 *   accuracy.svg/.png, loss.svg/.png   curves versus round
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { FASHION_MNIST_CLASSES } from '../data/index.js';
import { formatPartitionSummary, type PartitionSummary } from '../partition/index.js';
import type { SimulationEvent, SimulationSummary } from '../runner.js';
import { bestAccuracy, METRIC_FIELDS, RUN_FILES, RunDirError, toMetricsRow, type MetricsRow, type RunSummaryFile } from './metrics.js';
import { plotRunMetrics } from './plot.js';

/** Flag names that describe how a run is shown, not what it computes: left out of config.json. */
const NOT_CONFIG = new Set(['out', 'config', 'json', 'quiet', 'onProgress', 'logger', 'keepServing']);

/** What a round may report; fields not given are written as null. */
export interface RoundMetricsInput {
  round: number;
  modelVersion?: number;
  accuracy?: number;
  loss?: number;
  participants?: number;
  dropouts?: number;
  bytesUp?: number;
  bytesDown?: number;
  roundSeconds?: number;
  /** Alias of roundSeconds, as RoundRecord and the 'round' event call it. */
  seconds?: number;
  epsilon?: number;
  /** Injected delays (with straggler or bandwidth simulation). */
  stragglers?: number;
  late?: number;
  meanDelayMs?: number;
}

export interface RunRecorderOptions {
  /** Suffix of the default directory name, e.g. `sim-s1` (default `sim`). */
  label?: string;
  /** Parent of the default `runs/` directory (default: process.cwd()). */
  cwd?: string;
  /** Start time, for the default name and summary.json (default: now). */
  now?: Date;
}

/** What finish() and fail() wrote, and what they could not write. */
export interface RunFinishResult {
  dir: string;
  files: string[];
  /** Plots that failed (the run's data files are written regardless). */
  warnings: string[];
}

function timestamp(d: Date): string {
  return d.toISOString().slice(0, 19).replace(/:/g, '-');
}

async function isEmptyDirOrAbsent(dir: string): Promise<'absent' | 'empty' | 'non-empty' | 'file'> {
  const st = await stat(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw e;
  });
  if (st === null) return 'absent';
  if (!st.isDirectory()) return 'file';
  return (await readdir(dir)).length === 0 ? 'empty' : 'non-empty';
}

/** Writes a run directory as a simulation goes. Create with {@link RunRecorder.create}. */
export class RunRecorder {
  private readonly rows: MetricsRow[] = [];
  private finished = false;

  private constructor(
    /** The run directory (absolute). */
    readonly dir: string,
    readonly startedAt: Date,
  ) {}

  /**
   * Makes the run directory. With a path `out`, that directory (created if absent; an existing
   * empty directory is fine, a non-empty one is refused so no run is ever overwritten). Without,
   * (or with `true`, as `flock sim --out` without a value gives) a new `runs/<UTC timestamp>-<label>` under the cwd, e.g. `runs/2026-11-25T15-20-03-sim-s1`.
   * @throws RunDirError (code RUN_DIR_EXISTS) for a non-empty directory or a file in the way.
   */
  static async create(out?: string | true, options: RunRecorderOptions = {}): Promise<RunRecorder> {
    if (out !== undefined && out !== true && (typeof out !== 'string' || out.trim() === '')) throw new TypeError('outDir must be a non-empty path, true or undefined');
    const outDir = out === true ? undefined : out;
    const now = options.now ?? new Date();
    if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new TypeError('options.now must be a valid Date');
    const label = (options.label ?? 'sim').replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 80) || 'sim';
    let dir: string;
    if (outDir !== undefined) {
      dir = resolve(outDir);
      const state = await isEmptyDirOrAbsent(dir);
      if (state === 'file') throw new RunDirError(`${outDir} exists and is not a directory; choose another --out`, 'RUN_DIR_EXISTS');
      if (state === 'non-empty') throw new RunDirError(`run directory ${outDir} already exists and is not empty; choose another --out or remove it (runs are never overwritten)`, 'RUN_DIR_EXISTS');
      await mkdir(dir, { recursive: true });
    } else {
      const parent = resolve(options.cwd ?? process.cwd(), 'runs');
      await mkdir(parent, { recursive: true });
      const base = `${timestamp(now)}-${label}`;
      for (let i = 1; ; i++) {
        dir = join(parent, i === 1 ? base : `${base}-${i}`);
        try {
          await mkdir(dir); // not recursive: fails if it exists, so two runs never share a directory
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || i >= 1000) throw e;
        }
      }
    }
    return new RunRecorder(dir, now);
  }

  /** A short name of the run: the directory's base name. */
  get name(): string {
    return basename(this.dir);
  }

  /** Rounds recorded so far. */
  get metrics(): readonly MetricsRow[] {
    return this.rows;
  }

  /**
   * Writes config.json: the resolved settings, i.e. the merged `flock sim` flags (config-file
   * keys). Presentation flags (out, config, json, quiet) and undefined values are left out, so
   * the file is itself a valid `--config` file that reruns the experiment.
   */
  writeConfig(config: object): void {
    if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new TypeError('config must be an object of settings');
    const clean: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(config)) {
      if (NOT_CONFIG.has(k) || v === undefined || typeof v === 'function') continue;
      clean[k] = v;
    }
    writeFileSync(join(this.dir, RUN_FILES.config), JSON.stringify(clean, null, 2) + '\n');
  }

  /** Writes partition.json (the data) and partition.txt (the formatted table). */
  writePartition(summary: PartitionSummary): void {
    if (summary === null || typeof summary !== 'object' || !Array.isArray(summary.counts)) throw new TypeError('summary must come from partitionSummary()');
    writeFileSync(join(this.dir, RUN_FILES.partition), JSON.stringify(summary) + '\n');
    const names = summary.numClasses === FASHION_MNIST_CLASSES.length ? { classNames: FASHION_MNIST_CLASSES } : {};
    writeFileSync(join(this.dir, RUN_FILES.partitionText), formatPartitionSummary(summary, { maxClients: 20, ...names }) + '\n');
  }

  /**
   * Appends one line to metrics.jsonl (synchronously, so a crash keeps every finished round).
   * A round already recorded is ignored.
   */
  recordRound(input: RoundMetricsInput): MetricsRow {
    if (input === null || typeof input !== 'object') throw new TypeError('round metrics must be an object');
    if (!Number.isInteger(input.round) || input.round < 1) throw new RangeError(`round must be a positive integer; got ${String(input.round)}`);
    const existing = this.rows.find((r) => r.round === input.round);
    if (existing) return existing;
    const row = toMetricsRow({ ...input, roundSeconds: input.roundSeconds ?? input.seconds });
    const ordered: Record<string, number | null> = {};
    for (const f of METRIC_FIELDS) ordered[f] = row[f];
    appendFileSync(join(this.dir, RUN_FILES.metrics), JSON.stringify(ordered) + '\n');
    this.rows.push(row);
    return row;
  }

  /** A `runSimulation` onProgress handler: 'setup' writes the partition, 'round' a metrics line. */
  readonly onProgress = (event: SimulationEvent): void => {
    if (event.type === 'setup') this.writePartition(event.partition);
    else if (event.type === 'round') this.recordRound(event);
  };

  private async writeEnd(status: 'finished' | 'failed', extra: Record<string, unknown>, error?: string): Promise<RunFinishResult> {
    if (this.finished) throw new Error(`run ${this.dir} is already finished`);
    this.finished = true;
    const end = new Date();
    const last = this.rows[this.rows.length - 1];
    const best = bestAccuracy(this.rows);
    const measured = Math.round((end.getTime() - this.startedAt.getTime()) / 10) / 100;
    const summary: RunSummaryFile = {
      status,
      startedAt: this.startedAt.toISOString(),
      finishedAt: end.toISOString(),
      wallSeconds: measured,
      rounds: this.rows.length,
      accuracy: last?.accuracy ?? null,
      loss: last?.loss ?? null,
      bestAccuracy: best.accuracy,
      bestRound: best.round,
      ...extra,
      ...(error !== undefined ? { error } : {}),
      node: process.version,
      argv: process.argv.slice(2),
    };
    const files = [join(this.dir, RUN_FILES.summary)];
    // JSON has no NaN: a summary's NaN (no rounds) is written as null.
    writeFileSync(files[0]!, JSON.stringify(summary, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
    const warnings: string[] = [];
    if (this.rows.length > 0) {
      try {
        for (const p of await plotRunMetrics(this.rows, this.dir, this.name)) files.push(p.svg, p.png);
      } catch (e) {
        warnings.push(`could not draw the plots in ${this.dir}: ${(e as Error).message}`);
      }
    }
    return { dir: this.dir, files, warnings };
  }

  /**
   * Writes summary.json (status 'finished', the runner's summary plus best accuracy) and the
   * accuracy and loss plots. A plot that fails is reported in `warnings`, not thrown.
   */
  async finish(summary?: SimulationSummary | Record<string, unknown>): Promise<RunFinishResult> {
    if (summary !== undefined && (summary === null || typeof summary !== 'object')) throw new TypeError('summary must be an object');
    return this.writeEnd('finished', { ...(summary ?? {}) });
  }

  /** Writes summary.json with status 'failed' and the error, and plots the rounds that finished. */
  async fail(error: unknown): Promise<RunFinishResult> {
    return this.writeEnd('failed', {}, error instanceof Error ? error.message : String(error));
  }
}
