import { hashModel, specSize, type ModelSpec } from '@flock/protocol';

/** One committed global model. Immutable once committed. */
export interface ModelVersion {
  version: number;
  hash: string;
  /** The round that produced it (0 for the initial model). */
  round: number;
  weights: Float32Array;
  metrics: Record<string, number>;
  createdAt: string;
}

/** Where committed models live. The in-memory store keeps every version. */
export interface ModelStore {
  readonly spec: ModelSpec;
  readonly topology: Record<string, unknown>;
  latest(): ModelVersion;
  get(version: number): ModelVersion | undefined;
  commit(weights: Float32Array, round: number, metrics: Record<string, number>): ModelVersion;
  /** Merges metrics into an existing version (federated evaluation results). */
  annotate(version: number, metrics: Record<string, number>): void;
}

export class MemoryModelStore implements ModelStore {
  private readonly versions: ModelVersion[] = [];

  constructor(
    readonly topology: Record<string, unknown>,
    readonly spec: ModelSpec,
    initialWeights: Float32Array,
    private readonly keepVersions = Infinity,
  ) {
    if (initialWeights.length !== specSize(spec)) throw new RangeError('initialWeights does not match spec');
    this.push(0, initialWeights.slice(), 0, {});
  }

  private push(version: number, weights: Float32Array, round: number, metrics: Record<string, number>): ModelVersion {
    const entry: ModelVersion = { version, hash: hashModel(this.spec, weights), round, weights, metrics, createdAt: new Date().toISOString() };
    this.versions.push(entry);
    // Old versions beyond the retention window are dropped (latest is always kept).
    while (this.versions.length > this.keepVersions) this.versions.shift();
    return entry;
  }

  latest(): ModelVersion {
    return this.versions[this.versions.length - 1]!;
  }

  get(version: number): ModelVersion | undefined {
    return this.versions.find((v) => v.version === version);
  }

  commit(weights: Float32Array, round: number, metrics: Record<string, number>): ModelVersion {
    return this.push(this.latest().version + 1, weights, round, metrics);
  }

  annotate(version: number, metrics: Record<string, number>): void {
    const v = this.get(version);
    if (v) v.metrics = { ...v.metrics, ...metrics };
  }
}
