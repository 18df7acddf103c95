import * as tf from '@tensorflow/tfjs';
import { modelSpecSchema, specSize, type ModelSpec } from '@flock/protocol';
import { getFlatWeights, weightSpecOf } from './weights.js';

/**
 * A model as the coordinator keeps it: the Keras topology (JSON, as in a TensorFlow.js
 * `model.json`), the weight spec and flat float32 weights.
 */
export interface FlatModel {
  topology: Record<string, unknown>;
  spec: ModelSpec;
  weights: Float32Array;
}

/** Captures a tfjs LayersModel as a FlatModel (topology + flat weights). */
export async function flatModelOf(model: tf.LayersModel): Promise<FlatModel> {
  let topology: Record<string, unknown> | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      topology = artifacts.modelTopology as Record<string, unknown>;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!topology) throw new Error('model.save produced no topology');
  return { topology, spec: weightSpecOf(model), weights: getFlatWeights(model) };
}

/**
 * The `model.json` document of the TensorFlow.js layers-model artifacts format, pointing at
 * one weights file. `tf.loadLayersModel(url)` reads it in Node and in browsers.
 */
export function modelJsonOf(topology: Record<string, unknown>, spec: ModelSpec, weightsPath: string): Record<string, unknown> {
  return {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    convertedBy: 'flock',
    modelTopology: topology,
    weightsManifest: [{ paths: [weightsPath], weights: spec.weights.map((w) => ({ name: w.name, shape: w.shape, dtype: w.dtype })) }],
  };
}

/**
 * Reads a `model.json` document plus its weight files (already fetched or read by the
 * caller, in manifest order) into a FlatModel. Only float32 weights are accepted.
 */
export function flatModelFromArtifacts(modelJson: unknown, weightFiles: Uint8Array[]): FlatModel {
  const doc = modelJson as { modelTopology?: unknown; weightsManifest?: Array<{ paths: string[]; weights: Array<{ name: string; shape: number[]; dtype: string }> }> };
  if (!doc || typeof doc !== 'object' || typeof doc.modelTopology !== 'object' || !Array.isArray(doc.weightsManifest)) {
    throw new TypeError('model.json must have modelTopology and weightsManifest (TensorFlow.js layers-model format)');
  }
  const entries = doc.weightsManifest.flatMap((g) => g.weights);
  const spec = modelSpecSchema.parse({
    format: 'flock-weights/v1',
    weights: entries.map((w) => {
      if (w.dtype !== 'float32') throw new RangeError(`weight ${w.name} has dtype ${w.dtype}; only float32 is supported`);
      return { name: w.name, shape: w.shape, dtype: 'float32' };
    }),
  });
  const total = weightFiles.reduce((a, b) => a + b.byteLength, 0);
  const n = specSize(spec);
  if (total !== n * 4) throw new RangeError(`weight files hold ${total} bytes; the manifest needs ${n * 4}`);
  const bytes = new Uint8Array(total);
  let off = 0;
  for (const f of weightFiles) {
    bytes.set(f, off);
    off += f.byteLength;
  }
  return { topology: doc.modelTopology as Record<string, unknown>, spec, weights: new Float32Array(bytes.buffer) };
}
