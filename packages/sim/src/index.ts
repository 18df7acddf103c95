// Public API of @flock/sim: datasets, partitions and the simulation runner.
export { runSimulation } from './runner.js';
export type { SimulationOptions, SimulationEvent, SimulationSummary, SimulationResult, RoundRecord } from './runner.js';
export { toTensors } from './tensors.js';
export {
  parseStragglerSpec,
  formatStragglerSpec,
  parseBandwidthSpec,
  formatBandwidthSpec,
  parseRate,
  sampleDelayMs,
  transferMs,
  summarizeRoundDelays,
  DelayPlan,
  ClientDelays,
  StragglerSpecSchema,
  BandwidthSpecSchema,
  STRAGGLER_FORMS,
} from './delays.js';
export type { DelayDistribution, StragglerSpec, BandwidthSpec, ClientRoundDelay, RoundDelaySummary } from './delays.js';
export { evaluateWeights } from './evaluate.js';
export {
  loadFashionMnist,
  resolveFashionMnistDir,
  loadCsvData,
  parseCsvData,
  FASHION_MNIST_CLASSES,
  DatasetError,
} from './data/index.js';
export type { FashionMnistData, CsvData } from './data/index.js';
export { partition, parsePartitionSpec, formatPartitionSpec, partitionSummary, formatPartitionSummary, PARTITION_FORMS } from './partition/index.js';
export type { PartitionSpec, PartitionSummary } from './partition/index.js';
// Experiments as files: config files, run directories, metrics, plots, compare (explicit list in experiment/index.ts).
export * from './experiment/index.js';
