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
