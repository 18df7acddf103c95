/**
 * Plots of metrics versus round: a Vega spec rendered headless to SVG (vega's `renderer:
 * 'none'` view, no browser, no canvas), rasterised to PNG by resvg. Text is set in DejaVu Sans,
 * shipped by the `dejavu-fonts-ttf` package so a fresh machine without system fonts still
 * renders legible labels.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import * as vega from 'vega';
import { Resvg, type ResvgRenderOptions } from '@resvg/resvg-js';
import { PLOT_METRICS, readRun, type MetricsRow, type PlotMetric, type RunData } from './metrics.js';

/** The font family the charts ask for; the PNG renderer is given its files. */
export const PLOT_FONT_FAMILY = 'DejaVu Sans';

/** One line of a chart. */
export interface ChartSeries {
  name: string;
  points: readonly { round: number; value: number }[];
}

export interface LineChartOptions {
  series: readonly ChartSeries[];
  /** Y axis title, e.g. 'test accuracy'. */
  yTitle: string;
  xTitle?: string;
  title?: string;
  /** d3-format string for the y axis labels. */
  yFormat?: string;
  /** Plot area size in pixels (default 640 x 360). */
  width?: number;
  height?: number;
  /** Show the legend (default: when there is more than one series). */
  legend?: boolean;
}

const AXIS_TITLES: Record<PlotMetric, string> = { accuracy: 'test accuracy', loss: 'test loss' };
const Y_FORMATS: Record<PlotMetric, string> = { accuracy: '.2f', loss: '.2f' };

/** A Vega (v6) spec of one line per series, metric against round. */
export function lineChartSpec(options: LineChartOptions): vega.Spec {
  if (options === null || typeof options !== 'object' || !Array.isArray(options.series)) throw new TypeError('options.series must be an array of { name, points }');
  const width = options.width ?? 640;
  const height = options.height ?? 360;
  if (!(width >= 50 && width <= 10_000 && height >= 50 && height <= 10_000)) throw new RangeError('width and height must be between 50 and 10000 pixels');
  const values: { run: string; round: number; value: number }[] = [];
  const names: string[] = [];
  for (const s of options.series) {
    if (typeof s?.name !== 'string' || !Array.isArray(s.points)) throw new TypeError('each series needs a name (string) and points (array)');
    if (names.includes(s.name)) throw new RangeError(`two series are named '${s.name}'; series names label the legend and must differ`);
    names.push(s.name);
    const pts = s.points.filter((p: { round: number; value: number }) => Number.isFinite(p.round) && Number.isFinite(p.value));
    pts.sort((a: { round: number }, b: { round: number }) => a.round - b.round);
    for (const p of pts) values.push({ run: s.name, round: p.round, value: p.value });
  }
  const rounds = values.map((v) => v.round);
  const minRound = rounds.length ? Math.min(...rounds) : 1;
  const maxRound = Math.max(rounds.length ? Math.max(...rounds) : 1, minRound + 1);
  const font = `${PLOT_FONT_FAMILY}, sans-serif`;
  const showLegend = options.legend ?? names.length > 1;
  return {
    $schema: 'https://vega.github.io/schema/vega/v6.json',
    width,
    height,
    padding: 12,
    background: 'white',
    autosize: { type: 'pad' },
    config: {
      text: { font },
      title: { font, fontSize: 15, fontWeight: 'bold' },
      axis: { labelFont: font, titleFont: font, labelFontSize: 12, titleFontSize: 13, gridColor: '#e4e4e4' },
      legend: { labelFont: font, titleFont: font, labelFontSize: 12, titleFontSize: 12, labelLimit: 260 },
    },
    ...(options.title ? { title: { text: options.title, anchor: 'start' } } : {}),
    data: [{ name: 'table', values }],
    scales: [
      { name: 'x', type: 'linear', domain: [minRound, maxRound], range: 'width', nice: false, zero: false },
      { name: 'y', type: 'linear', domain: { data: 'table', field: 'value' }, range: 'height', nice: true, zero: false },
      { name: 'color', type: 'ordinal', domain: names, range: { scheme: 'tableau10' } },
    ],
    axes: [
      { orient: 'bottom', scale: 'x', title: options.xTitle ?? 'round', tickMinStep: 1, format: 'd', grid: true, labelFlush: true },
      { orient: 'left', scale: 'y', title: options.yTitle, format: options.yFormat ?? '~g', grid: true, tickCount: 8 },
    ],
    legends: showLegend ? [{ stroke: 'color', fill: 'color', title: 'run', orient: 'right', symbolType: 'circle' }] : [],
    marks: [
      {
        type: 'group',
        from: { facet: { name: 'series', data: 'table', groupby: 'run' } },
        marks: [
          {
            type: 'line',
            from: { data: 'series' },
            encode: {
              enter: {
                x: { scale: 'x', field: 'round' },
                y: { scale: 'y', field: 'value' },
                stroke: { scale: 'color', field: 'run' },
                strokeWidth: { value: 2.25 },
              },
            },
          },
          {
            type: 'symbol',
            from: { data: 'series' },
            encode: {
              enter: {
                x: { scale: 'x', field: 'round' },
                y: { scale: 'y', field: 'value' },
                fill: { scale: 'color', field: 'run' },
                size: { value: values.length > 200 ? 0 : 28 },
              },
            },
          },
        ],
      },
    ],
  } as vega.Spec;
}

/** Renders a Vega spec to an SVG document, headless. */
export async function renderSvg(spec: vega.Spec): Promise<string> {
  const view = new vega.View(vega.parse(spec), { renderer: 'none', logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

let fontFiles: string[] | undefined;

/** TTF files given to the PNG renderer: the shipped DejaVu Sans, else the system's copy. */
export function plotFontFiles(): string[] {
  if (fontFiles) return fontFiles;
  const found: string[] = [];
  const require = createRequire(import.meta.url);
  for (const file of ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf']) {
    const candidates: string[] = [];
    try {
      candidates.push(require.resolve(`dejavu-fonts-ttf/ttf/${file}`));
    } catch {
      // not installed: fall through to the system's fonts
    }
    candidates.push(`/usr/share/fonts/truetype/dejavu/${file}`);
    const hit = candidates.find((p) => existsSync(p));
    if (hit) found.push(hit);
  }
  fontFiles = found;
  return found;
}

/** Rasterises an SVG document to PNG (2x scale by default, white background). */
export function svgToPng(svg: string, options: { scale?: number } = {}): Buffer {
  if (typeof svg !== 'string' || !svg.includes('<svg')) throw new TypeError('svg must be an SVG document string');
  return new Resvg(svg, pngRenderOptions(options.scale ?? 2)).render().asPng();
}

/** resvg options: white background, `scale` zoom, the shipped font (system fonts only without it). */
export function pngRenderOptions(scale = 2): ResvgRenderOptions {
  if (!(scale > 0 && scale <= 8)) throw new RangeError(`scale must be in (0, 8]; got ${scale}`);
  const files = plotFontFiles();
  return {
    background: 'white',
    fitTo: { mode: 'zoom', value: scale },
    font: {
      fontFiles: files,
      // Without the shipped font, use whatever the machine has rather than render no text.
      loadSystemFonts: files.length === 0,
      defaultFontFamily: PLOT_FONT_FAMILY,
      sansSerifFamily: PLOT_FONT_FAMILY,
    },
  };
}

/** Paths written by a plot: the SVG and the PNG beside it. */
export interface PlotFiles {
  svg: string;
  png: string;
}

/** `out/acc.svg`, `out/acc.png` or `out/acc` -> both file names. */
function plotPaths(outFile: string): PlotFiles {
  const ext = extname(outFile).toLowerCase();
  const base = ext === '.svg' || ext === '.png' ? outFile.slice(0, -ext.length) : outFile;
  return { svg: `${base}.svg`, png: `${base}.png` };
}

/** Renders a spec and writes OUT.svg and OUT.png (OUT may end in .svg or .png). */
export async function writeChart(spec: vega.Spec, outFile: string): Promise<PlotFiles> {
  if (typeof outFile !== 'string' || outFile === '') throw new TypeError('outFile must be a non-empty path');
  const files = plotPaths(outFile);
  const svg = await renderSvg(spec);
  await mkdir(dirname(resolve(files.svg)), { recursive: true });
  await writeFile(files.svg, svg);
  await writeFile(files.png, svgToPng(svg));
  return files;
}

function seriesOf(name: string, rows: readonly MetricsRow[], metric: PlotMetric): ChartSeries {
  const points: { round: number; value: number }[] = [];
  for (const r of rows) {
    const v = r[metric];
    if (v !== null) points.push({ round: r.round, value: v });
  }
  return { name, points };
}

/** Writes accuracy.svg/png and loss.svg/png of one run into `dir`. */
export async function plotRunMetrics(rows: readonly MetricsRow[], dir: string, name: string): Promise<PlotFiles[]> {
  if (!Array.isArray(rows)) throw new TypeError('rows must be an array of MetricsRow');
  const written: PlotFiles[] = [];
  for (const metric of PLOT_METRICS) {
    const spec = lineChartSpec({ series: [seriesOf(name, rows, metric)], yTitle: AXIS_TITLES[metric], yFormat: Y_FORMATS[metric], title: `${name}: ${AXIS_TITLES[metric]}` });
    written.push(await writeChart(spec, join(dir, `${metric}.svg`)));
  }
  return written;
}

/** Legend names of runs: base names, or paths relative to the cwd where base names clash. */
export function runNames(runs: readonly Pick<RunData, 'dir' | 'name'>[]): string[] {
  const names = runs.map((r) => r.name);
  return names.map((n, i) => {
    if (names.indexOf(n) === names.lastIndexOf(n)) return n;
    const rel = relative(process.cwd(), resolve(runs[i]!.dir));
    return rel === '' ? basename(resolve(runs[i]!.dir)) : rel;
  });
}

export interface PlotRunsOptions {
  /** Which metric to plot (default 'accuracy'). */
  metric?: PlotMetric;
  title?: string;
}

/**
 * Overlays several runs, one line per run with a legend naming it (`flock compare`).
 * Writes OUT.svg and OUT.png; `outFile` may end in .svg, .png or neither.
 * @throws RunDirError for a directory that is not a run directory.
 */
export async function plotRuns(runDirs: readonly string[], outFile: string, options: PlotRunsOptions = {}): Promise<PlotFiles> {
  if (!Array.isArray(runDirs) || runDirs.length === 0) throw new TypeError('runDirs must be a non-empty array of run directories');
  const runs = await Promise.all(runDirs.map((d) => readRun(d)));
  return plotRunData(runs, outFile, options);
}

/** {@link plotRuns} for runs already read. */
export async function plotRunData(runs: readonly RunData[], outFile: string, options: PlotRunsOptions = {}): Promise<PlotFiles> {
  const metric = options.metric ?? 'accuracy';
  if (!(PLOT_METRICS as readonly string[]).includes(metric)) throw new RangeError(`metric must be one of ${PLOT_METRICS.join(', ')}; got '${String(metric)}'`);
  const names = runNames(runs);
  const spec = lineChartSpec({
    series: runs.map((r, i) => seriesOf(names[i]!, r.metrics, metric)),
    yTitle: AXIS_TITLES[metric],
    yFormat: Y_FORMATS[metric],
    title: options.title ?? `${AXIS_TITLES[metric]} by round`,
    legend: true,
  });
  return writeChart(spec, outFile);
}
