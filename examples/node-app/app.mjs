// A plain Node.js app (JavaScript, no TypeScript, no bundler) that joins a Flock federation with
// the packages from npm, trains on local Fashion-MNIST files and exits when the federation is done.
//
//   npm install @flock/client @flock/model @tensorflow/tfjs
//   FLOCK_URL=http://127.0.0.1:8080 FLOCK_TOKEN="$(npx flock token create)" node app.mjs DIR
//
// DIR holds Fashion-MNIST's train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz (the full
// set, /usr/share/datasets/fashion-mnist on Debian, or the subset in packages/sim/data/).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import { FlockClient } from '@flock/client';
import { ready } from '@flock/model';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node app.mjs DIR   (DIR: Fashion-MNIST IDX .gz files)');
  process.exit(2);
}
const limit = Number(process.env.FLOCK_EXAMPLES ?? 600);

/** Reads a gzip-compressed IDX file: its dimensions and its bytes after the header. */
function readIdx(file) {
  const buf = gunzipSync(readFileSync(join(dir, file)));
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const rank = view.getUint8(3);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  return { dims, bytes: buf.subarray(4 + 4 * rank) };
}

await ready(); // TensorFlow.js picks its backend (WebAssembly, or tfjs-node if installed) before any tensor
const images = readIdx('train-images-idx3-ubyte.gz');
const labels = readIdx('train-labels-idx1-ubyte.gz');
const n = Math.min(limit, labels.dims[0]);
const x = tf.tidy(() => tf.tensor4d(Float32Array.from(images.bytes.subarray(0, n * 784), (v) => v / 255), [n, 28, 28, 1]));
const y = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from(labels.bytes.subarray(0, n)), 'int32'), 10).toFloat());

const client = new FlockClient({
  url: process.env.FLOCK_URL ?? 'http://127.0.0.1:8080',
  token: process.env.FLOCK_TOKEN, // enrollment token (flock token create); not needed by an --open coordinator
  ...(process.env.FLOCK_CLIENT_ID ? { clientId: process.env.FLOCK_CLIENT_ID } : {}),
  data: { x, y }, // stays in this process: only weight deltas leave it
});
client.on('round:report', (r) => console.log(JSON.stringify({ event: 'report', round: r.round, accepted: r.accepted, numExamples: r.numExamples, metrics: r.metrics })));
client.on('error', (e) => console.error(JSON.stringify({ event: 'error', code: e.code, message: e.message })));
client.on('done', async (d) => {
  console.log(JSON.stringify({ event: 'done', clientId: client.clientId, rounds: d.rounds, modelVersion: d.modelVersion, modelPath: d.modelPath }));
  await client.stop();
  tf.dispose([x, y]);
});
const welcome = await client.start();
console.log(JSON.stringify({ event: 'joined', clientId: client.clientId, federationId: welcome.federationId, modelVersion: welcome.modelVersion, examples: n }));
