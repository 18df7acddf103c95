import * as tf from '@tensorflow/tfjs';
import type { ClientPlatform } from './platform.js';

/**
 * A permutation of 0..n-1. With a seed it is reproducible (simulations; a small
 * splitmix32 generator, fine for shuffling, not for privacy); without, it draws from the
 * platform's crypto randomness.
 */
export function permutation(n: number, seed: number | undefined, platform: ClientPlatform): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  let next: () => number;
  if (seed === undefined) {
    let buf: Uint32Array = new Uint32Array(0);
    let pos = 0;
    next = () => {
      if (pos >= buf.length) {
        const bytes = platform.randomBytes(4096);
        buf = new Uint32Array(bytes.buffer, bytes.byteOffset, 1024);
        pos = 0;
      }
      return buf[pos++]!;
    };
  } else {
    let state = seed >>> 0;
    next = () => {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
  }
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor((next() / 0x1_0000_0000) * (i + 1));
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}

/**
 * Rows of `t` (first axis) in the given order, as a new tensor. A typed-array copy: on the
 * wasm backend this is ~100x faster than tf.gather for whole datasets.
 */
export function permuteRows(t: tf.Tensor, rows: Int32Array): tf.Tensor {
  const n = t.shape[0]!;
  const width = n === 0 ? 0 : t.size / n;
  const src = t.dataSync() as Float32Array | Int32Array | Uint8Array;
  const out = new (src.constructor as Float32ArrayConstructor)(rows.length * width);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (r < 0 || r >= n) throw new RangeError(`row ${r} is out of range [0, ${n})`);
    out.set(src.subarray(r * width, (r + 1) * width), i * width);
  }
  return tf.tensor(out, [rows.length, ...t.shape.slice(1)], t.dtype);
}
