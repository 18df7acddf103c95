// Reads a slice of Fashion-MNIST from the gzipped IDX files the dev server serves (vite.config.ts).
import * as tf from '@tensorflow/tfjs';

/** The IDX bytes of a .gz file; servers that send it with content-encoding: gzip have the browser inflate it already. */
async function gunzip(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  return new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
}

/** Rows [offset, offset + count) of a split: x in [0, 1] (n, 28, 28, 1), y one-hot (n, 10). */
export async function loadSlice(split: 'train' | 't10k', offset: number, count: number): Promise<{ x: tf.Tensor4D; y: tf.Tensor2D; count: number }> {
  const [images, labels] = await Promise.all([gunzip(`/fashion-mnist/${split}-images-idx3-ubyte.gz`), gunzip(`/fashion-mnist/${split}-labels-idx1-ubyte.gz`)]);
  const view = new DataView(images.buffer);
  if (view.getUint32(0) !== 0x803 || new DataView(labels.buffer).getUint32(0) !== 0x801) throw new Error('not IDX image/label files');
  const total = view.getUint32(4);
  const n = Math.max(0, Math.min(count, total - offset));
  const pixels = new Float32Array(n * 784);
  const src = images.subarray(16 + offset * 784, 16 + (offset + n) * 784);
  for (let i = 0; i < pixels.length; i++) pixels[i] = src[i]! / 255;
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from(labels.subarray(8 + offset, 8 + offset + n)), 'int32'), 10).toFloat() as tf.Tensor2D);
  return { x: tf.tensor4d(pixels, [n, 28, 28, 1]), y, count: n };
}
