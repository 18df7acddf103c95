import * as tf from '@tensorflow/tfjs';

/** Model presets shared by the demo, simulations and benchmarks. */
export type ModelPreset = 'mlp' | 'cnn' | 'simple-cnn' | 'logreg';
export const MODEL_PRESETS: readonly ModelPreset[] = ['mlp', 'cnn', 'simple-cnn', 'logreg'];

export interface PresetOptions {
  /** Number of classes of the output layer (default 10). */
  numClasses?: number;
  /** Seed for the initializers, so a seed fixes the initial model. */
  seed?: number;
}

/**
 * Builds an uncompiled preset model for 28x28x1 images.
 * - `mlp`: the FedAvg paper's 2NN (784-200-200-10, ReLU).
 * - `cnn`: the FedAvg CNN architecture (conv5x5x32, maxpool, conv5x5x64, maxpool, dense 512,
 *   dense 10) with 'valid' padding: 582,026 parameters, 25.6 MFLOP per training sample (the
 *   workload Flock's benchmarks quote). The FedAvg paper pads 'same' (1,663,370 parameters,
 *   about 3x the FLOPs); build that with tf.layers if you need the paper's exact model.
 * - `simple-cnn`: NIID-Bench's "simple CNN" (Li et al., ICDE 2022) for 28x28x1 inputs: conv5x5x6,
 *   maxpool, conv5x5x16, maxpool, dense 120, dense 84, dense 10 (ReLU): 44,426 parameters.
 * - `logreg`: multinomial logistic regression (7,850 parameters): small enough for very
 *   large simulations and to learn under strong differential-privacy noise.
 */
export function createPresetModel(preset: ModelPreset, options: PresetOptions = {}): tf.LayersModel {
  if (typeof preset !== 'string') throw new TypeError('preset must be a string');
  const numClasses = options.numClasses ?? 10;
  const seed = options.seed;
  const init = (offset: number) =>
    seed === undefined ? 'glorotUniform' : tf.initializers.glorotUniform({ seed: seed * 1000 + offset });
  switch (preset) {
    case 'mlp':
      return tf.sequential({
        name: 'mlp',
        layers: [
          tf.layers.flatten({ inputShape: [28, 28, 1], name: 'flatten' }),
          tf.layers.dense({ units: 200, activation: 'relu', kernelInitializer: init(1), name: 'dense1' }),
          tf.layers.dense({ units: 200, activation: 'relu', kernelInitializer: init(2), name: 'dense2' }),
          tf.layers.dense({ units: numClasses, activation: 'softmax', kernelInitializer: init(3), name: 'logits' }),
        ],
      });
    case 'cnn':
      return tf.sequential({
        name: 'cnn',
        layers: [
          tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 5, padding: 'valid', activation: 'relu', kernelInitializer: init(1), name: 'conv1' }),
          tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'pool1' }),
          tf.layers.conv2d({ filters: 64, kernelSize: 5, padding: 'valid', activation: 'relu', kernelInitializer: init(2), name: 'conv2' }),
          tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'pool2' }),
          tf.layers.flatten({ name: 'flatten' }),
          tf.layers.dense({ units: 512, activation: 'relu', kernelInitializer: init(3), name: 'dense1' }),
          tf.layers.dense({ units: numClasses, activation: 'softmax', kernelInitializer: init(4), name: 'logits' }),
        ],
      });
    case 'simple-cnn':
      return tf.sequential({
        name: 'simple-cnn',
        layers: [
          tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 6, kernelSize: 5, padding: 'valid', activation: 'relu', kernelInitializer: init(1), name: 'conv1' }),
          tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'pool1' }),
          tf.layers.conv2d({ filters: 16, kernelSize: 5, padding: 'valid', activation: 'relu', kernelInitializer: init(2), name: 'conv2' }),
          tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'pool2' }),
          tf.layers.flatten({ name: 'flatten' }),
          tf.layers.dense({ units: 120, activation: 'relu', kernelInitializer: init(3), name: 'dense1' }),
          tf.layers.dense({ units: 84, activation: 'relu', kernelInitializer: init(4), name: 'dense2' }),
          tf.layers.dense({ units: numClasses, activation: 'softmax', kernelInitializer: init(5), name: 'logits' }),
        ],
      });
    case 'logreg':
      return tf.sequential({
        name: 'logreg',
        layers: [
          tf.layers.flatten({ inputShape: [28, 28, 1], name: 'flatten' }),
          tf.layers.dense({ units: numClasses, activation: 'softmax', kernelInitializer: init(1), name: 'logits' }),
        ],
      });
    default:
      throw new RangeError(`preset must be one of ${MODEL_PRESETS.join(', ')}; got '${String(preset)}'`);
  }
}
