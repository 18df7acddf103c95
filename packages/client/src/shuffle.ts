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
 * Produces row-permuted copies of a tensor, epoch after epoch, without tf.gather (on the wasm
 * backend ~100x slower for whole datasets). The source rows are read once; backends that copy
 * on upload (wasm, tensorflow, webgl) reuse one output buffer, the cpu backend (which keeps the
 * array it is given) gets a fresh one each time.
 */
export class RowPermuter {
  private readonly src: Float32Array | Int32Array | Uint8Array;
  private readonly width: number;
  private reusable: Float32Array | Int32Array | Uint8Array | undefined;

  constructor(private readonly t: tf.Tensor) {
    const n = t.shape[0]!;
    this.width = n === 0 ? 0 : t.size / n;
    this.src = t.dataSync() as Float32Array | Int32Array | Uint8Array;
  }

  get rows(): number {
    return this.t.shape[0]!;
  }

  permute(rows: Int32Array): tf.Tensor {
    const n = this.rows;
    const width = this.width;
    const Ctor = this.src.constructor as Float32ArrayConstructor;
    const size = rows.length * width;
    const reuse = tf.getBackend() !== 'cpu';
    const out = reuse && this.reusable?.length === size ? this.reusable : new Ctor(size);
    if (reuse) this.reusable = out;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (r < 0 || r >= n) throw new RangeError(`row ${r} is out of range [0, ${n})`);
      out.set(this.src.subarray(r * width, (r + 1) * width), i * width);
    }
    return tf.tensor(out, [rows.length, ...this.t.shape.slice(1)], this.t.dtype);
  }
}
