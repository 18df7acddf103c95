import { decodeFloat32, type ModelSpec } from '@flock/protocol';
import type { ModelVersion } from '../model-store.js';
import type { FederationRecord } from './database.js';

/** A `model_versions` row as both backends return it (weights NULL once pruned). */
export interface VersionRow {
  version: number;
  round: number;
  hash: string;
  weights: Buffer | null;
  metrics: string;
  created_at: string;
}

/** A `federation` row as both backends return it. */
export interface FederationRow {
  federation_id: string;
  config: string;
  spec: string;
  topology: string;
  created_at: string;
}

/** The model version a row holds; undefined when the row is missing or its weights were pruned. */
export function versionFromRow(row: VersionRow | undefined, numParams: number): ModelVersion | undefined {
  if (!row || !row.weights) return undefined;
  return {
    version: row.version,
    hash: row.hash,
    round: row.round,
    weights: decodeFloat32(new Uint8Array(row.weights.buffer, row.weights.byteOffset, row.weights.byteLength), numParams),
    metrics: JSON.parse(row.metrics) as Record<string, number>,
    createdAt: row.created_at,
  };
}

export function federationFromRow(r: FederationRow): FederationRecord {
  return {
    federationId: r.federation_id,
    config: JSON.parse(r.config) as Record<string, unknown>,
    spec: JSON.parse(r.spec) as ModelSpec,
    topology: JSON.parse(r.topology) as Record<string, unknown>,
    createdAt: r.created_at,
  };
}
