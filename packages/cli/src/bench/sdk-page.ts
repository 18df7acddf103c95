// The page `flock bench sdk` runs in Chromium (bundled by esbuild at run time): one FlockClient on
// wasm + Flock kernels, training on rows the bench's page server hands out, until the federation is done.
import * as tf from '@tensorflow/tfjs';
import { FlockClient, type RoundReport } from '@flock/client';

interface RunOptions {
  url: string;
  count: number;
  wasmPaths: string;
}

async function run(o: RunOptions): Promise<RoundReport[]> {
  const bytes = new Uint8Array(await (await fetch(`/data?count=${o.count}`)).arrayBuffer());
  const pixels = new Float32Array(o.count * 784);
  for (let i = 0; i < pixels.length; i++) pixels[i] = bytes[i]! / 255;
  const labels = Array.from(bytes.subarray(o.count * 784));
  await tf.setBackend('cpu'); // tensors for the data, before the SDK selects wasm (moved there on first use)
  const data = { x: tf.tensor4d(pixels, [o.count, 28, 28, 1]), y: tf.oneHot(tf.tensor1d(labels, 'int32'), 10).toFloat() as tf.Tensor2D };
  const client = new FlockClient({ url: o.url, data, backend: 'wasm', wasmPaths: o.wasmPaths });
  const reports: RoundReport[] = [];
  client.on('round:report', (r) => reports.push({ ...r, error: r.error ? ({ code: r.error.code, message: r.error.message } as never) : undefined } as RoundReport));
  const done = new Promise<void>((resolve) => client.on('done', () => resolve()));
  await client.start();
  await done;
  await client.stop();
  return reports;
}

(globalThis as unknown as { flockBench: { run: typeof run } }).flockBench = { run };
document.title = 'ready';
