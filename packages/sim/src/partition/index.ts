export {
  PARTITION_FORMS,
  PartitionSpecSchema,
  formatPartitionSpec,
  parsePartitionSpec,
  toPartitionSpec,
  type PartitionKind,
  type PartitionSpec,
} from './spec.js';
export { PartitionError, partition, type PartitionOptions } from './partition.js';
export { formatPartitionSummary, partitionSummary, type FormatSummaryOptions, type PartitionSummary } from './summary.js';
