/** The files of a run directory and how to read them back. */
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';

/** File names inside a run directory. */
export const RUN_FILES = {
  config: 'config.json',
  partition: 'partition.json',
  partitionText: 'partition.txt',
  metrics: 'metrics.jsonl',
  summary: 'summary.json',
  accuracySvg: 'accuracy.svg',
  accuracyPng: 'accuracy.png',
  lossSvg: 'loss.svg',
  lossPng: 'loss.png',
} as const;

/**
 * One line of metrics.jsonl: one committed training round. Fields the simulation does not
 * measure yet are null (dropouts, bytesUp, bytesDown, epsilon) and fill in as the runner learns
 * to report them; readers must accept null for every field but `round`.
 */
export interface MetricsRow {
  /** 1-based round number. */
  round: number;
  /** Model version committed by this round (null when the event did not say). */
  modelVersion: number | null;
  /** Test accuracy of the committed model, 0-1. */
  accuracy: number | null;
  /** Test loss (cross-entropy) of the committed model. */
  loss: number | null;
  /** Clients whose update went into the aggregate. */
  participants: number | null;
  /** Selected clients that did not report in time. */
  dropouts: number | null;
  /** Bytes clients sent to the coordinator this round (all clients). */
  bytesUp: number | null;
  /** Bytes the coordinator sent to clients this round (all clients). */
  bytesDown: number | null;
  /** Wall-clock seconds of the round (selection to commit). */
  roundSeconds: number | null;
  /** Cumulative privacy loss epsilon after this round (with DP), else null. */
  epsilon: number | null;
  /** Selected clients that straggle (with --straggler), else null. */
  stragglers: number | null;
  /** Selected clients with an injected delay that did not report in time (with --straggler or --bandwidth), else null. */
  late: number | null;
  /** Mean injected delay over the selected clients, ms (with --straggler or --bandwidth), else null. */
  meanDelayMs: number | null;
}

/** The fields of a MetricsRow, in the order they are written. */
export const METRIC_FIELDS: readonly (keyof MetricsRow)[] = [
  'round',
  'modelVersion',
  'accuracy',
  'loss',
  'participants',
  'dropouts',
  'bytesUp',
  'bytesDown',
  'roundSeconds',
  'epsilon',
  'stragglers',
  'late',
  'meanDelayMs',
];

/** The metrics a plot or a comparison can show. */
export const PLOT_METRICS = ['accuracy', 'loss'] as const;
export type PlotMetric = (typeof PLOT_METRICS)[number];

/** The contents of summary.json. */
export interface RunSummaryFile {
  status: 'finished' | 'failed';
  startedAt: string;
  finishedAt: string;
  wallSeconds: number;
  rounds: number;
  /** Final test accuracy (null without rounds). */
  accuracy: number | null;
  loss: number | null;
  bestAccuracy: number | null;
  bestRound: number | null;
  /** Present when status is 'failed'. */
  error?: string;
  /** The rest of the runner's SimulationSummary (backend, modelHash, ...). */
  [key: string]: unknown;
}

/** A run directory read back. */
export interface RunData {
  dir: string;
  /** Short name for tables and legends: the directory's base name. */
  name: string;
  /** config.json, or null when absent. */
  config: Record<string, unknown> | null;
  metrics: MetricsRow[];
  /** summary.json, or null while the run is going on (or when it was killed). */
  summary: RunSummaryFile | null;
}

/** A directory that is not a run directory, or a run file that cannot be read. */
export class RunDirError extends Error {
  override name = 'RunDirError';
  constructor(
    message: string,
    readonly code: 'NOT_A_RUN_DIR' | 'RUN_DIR_EXISTS' | 'RUN_FILE_INVALID',
  ) {
    super(message);
  }
}

const finiteOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Normalises one parsed metrics line (missing or non-numeric fields become null). */
export function toMetricsRow(value: Record<string, unknown>): MetricsRow {
  const row = {} as Record<keyof MetricsRow, number | null>;
  for (const f of METRIC_FIELDS) row[f] = finiteOrNull(value[f]);
  return row as MetricsRow;
}

/** Parses metrics.jsonl text; `source` names the file in errors. Blank lines are skipped. */
export function parseMetricsJsonl(text: string, source: string = RUN_FILES.metrics): MetricsRow[] {
  if (typeof text !== 'string') throw new TypeError('metrics text must be a string');
  const rows: MetricsRow[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      // A run killed mid-write leaves a torn last line: skip it rather than refuse the run.
      if (i === lines.length - 1) return;
      throw new RunDirError(`${source}:${i + 1}: not JSON: ${(e as Error).message}`, 'RUN_FILE_INVALID');
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new RunDirError(`${source}:${i + 1}: expected a JSON object per line`, 'RUN_FILE_INVALID');
    const row = toMetricsRow(v as Record<string, unknown>);
    if (row.round === null || !Number.isInteger(row.round) || row.round < 1) {
      throw new RunDirError(`${source}:${i + 1}: "round" must be a positive integer`, 'RUN_FILE_INVALID');
    }
    rows.push(row);
  });
  return rows;
}

async function readJsonObject(path: string): Promise<Record<string, unknown> | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const v: unknown = JSON.parse(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('expected a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new RunDirError(`${path}: ${(e as Error).message}`, 'RUN_FILE_INVALID');
  }
}

/**
 * Reads a run directory written by RunRecorder (`flock sim --out DIR`).
 * @throws RunDirError when `dir` is not a directory or holds no metrics.jsonl.
 */
export async function readRun(dir: string): Promise<RunData> {
  if (typeof dir !== 'string' || dir === '') throw new TypeError('run directory must be a non-empty string');
  const st = await stat(dir).catch(() => null);
  if (st === null) throw new RunDirError(`${dir}: no such directory`, 'NOT_A_RUN_DIR');
  if (!st.isDirectory()) throw new RunDirError(`${dir}: not a directory; expected a run directory made by 'flock sim --out DIR'`, 'NOT_A_RUN_DIR');
  let text: string;
  try {
    text = await readFile(join(dir, RUN_FILES.metrics), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new RunDirError(`${dir}: not a run directory (no ${RUN_FILES.metrics}); run directories are made by 'flock sim --out DIR'`, 'NOT_A_RUN_DIR');
    }
    throw e;
  }
  const metrics = parseMetricsJsonl(text, join(dir, RUN_FILES.metrics));
  const config = await readJsonObject(join(dir, RUN_FILES.config));
  const summary = (await readJsonObject(join(dir, RUN_FILES.summary))) as RunSummaryFile | null;
  return { dir, name: basename(dir.replace(/[\\/]+$/, '')) || dir, config, metrics, summary };
}

/** The best (highest) accuracy of a run and its round, or nulls without any. */
export function bestAccuracy(rows: readonly MetricsRow[]): { accuracy: number | null; round: number | null } {
  let best: MetricsRow | undefined;
  for (const r of rows) if (r.accuracy !== null && (best === undefined || r.accuracy > best.accuracy!)) best = r;
  return { accuracy: best?.accuracy ?? null, round: best?.round ?? null };
}
