// Loads the federation's model over HTTP and evaluates it on the Fashion-MNIST test split.
// Usage (in this repository): node --import ./scripts/source-loader.mjs examples/quickstart/predict.ts http://127.0.0.1:8080
import * as tf from '@tensorflow/tfjs';
import { ready } from '@flock/model';
import { loadFashionMnist, toTensors, FASHION_MNIST_CLASSES } from '@flock/sim';

await ready(); // the TensorFlow.js backend (WebAssembly, or tfjs-node if installed) before any tensor
const base = process.argv[2] ?? 'http://127.0.0.1:8080';
const model = await tf.loadLayersModel(`${base}/v1/models/latest/model.json`);
const test = await loadFashionMnist({ split: 'test' });
const { x, y } = toTensors(test.images, test.labels, undefined);
const predicted = tf.tidy(() => (model.predict(x) as tf.Tensor).argMax(1));
const accuracy = tf.tidy(() => predicted.equal(y.argMax(1)).mean().dataSync()[0]!);
const first = predicted.dataSync()[0]!;
console.log(`accuracy ${accuracy.toFixed(4)} on ${test.count} test images; the first one is a ${FASHION_MNIST_CLASSES[first]}`);
tf.dispose([x, y, predicted]);
model.dispose();
