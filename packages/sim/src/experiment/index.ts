// Experiments as files: config files, run directories, metrics, plots, comparisons.
export {
  simConfigFileSchema,
  SIM_CONFIG_KEYS,
  SimConfigError,
  loadSimConfig,
  parseSimConfig,
  mergeConfig,
  explicitFlagNames,
  flagOfKey,
  jsonErrorLocation,
} from './config.js';
export type { SimConfigFile, CommandLike } from './config.js';
export { parseJsonConfig, formatConfigIssues, suggestKey } from './json-config.js';
export type { ParseJsonConfigOptions, ConfigIssueOptions } from './json-config.js';
export { RunRecorder } from './run-dir.js';
export type { RoundMetricsInput, RunRecorderOptions, RunFinishResult } from './run-dir.js';
export { RUN_FILES, METRIC_FIELDS, PLOT_METRICS, RunDirError, readRun, parseMetricsJsonl, toMetricsRow, bestAccuracy } from './metrics.js';
export type { MetricsRow, PlotMetric, RunData, RunSummaryFile } from './metrics.js';
export { lineChartSpec, renderSvg, svgToPng, pngRenderOptions, writeChart, plotRunMetrics, plotRuns, plotRunData, plotFontFiles, runNames, PLOT_FONT_FAMILY } from './plot.js';
export type { ChartSeries, LineChartOptions, PlotFiles, PlotRunsOptions } from './plot.js';
export { compareRuns, compareRows, formatCompareTable, differingKeys } from './compare.js';
export type { CompareRow, CompareOptions, CompareResult } from './compare.js';
