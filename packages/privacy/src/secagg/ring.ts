/** Arithmetic in Z_2^32 on Uint32Array, in place. Typed-array stores wrap mod 2^32. */

function check(acc: unknown, x: unknown): asserts acc is Uint32Array {
  if (!(acc instanceof Uint32Array)) throw new TypeError('acc must be a Uint32Array');
  if (!(x instanceof Uint32Array)) throw new TypeError('x must be a Uint32Array');
  if (acc.length !== x.length) throw new RangeError(`x must have length ${acc.length}, got ${x.length}`);
}

/** acc += x (mod 2^32), element-wise, in place; returns acc. */
export function addInto(acc: Uint32Array, x: Uint32Array): Uint32Array {
  check(acc, x);
  const n = acc.length;
  for (let i = 0; i < n; i++) acc[i] = acc[i]! + x[i]!;
  return acc;
}

/** acc -= x (mod 2^32), element-wise, in place; returns acc. */
export function subInto(acc: Uint32Array, x: Uint32Array): Uint32Array {
  check(acc, x);
  const n = acc.length;
  for (let i = 0; i < n; i++) acc[i] = acc[i]! - x[i]!;
  return acc;
}

/** acc += sign * x with sign = +1 or -1. */
export function addSignedInto(acc: Uint32Array, x: Uint32Array, sign: 1 | -1): Uint32Array {
  return sign === 1 ? addInto(acc, x) : subInto(acc, x);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Little-endian bytes of a Uint32Array. On little-endian hosts (all mainstream ones) this is
 * a zero-copy view; otherwise a byte-swapped copy.
 */
export function u32ToBytesLE(v: Uint32Array): Uint8Array {
  if (!(v instanceof Uint32Array)) throw new TypeError('v must be a Uint32Array');
  if (LITTLE_ENDIAN) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  const out = new Uint8Array(v.byteLength);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) dv.setUint32(4 * i, v[i]!, true);
  return out;
}

/** Uint32Array from little-endian bytes; zero-copy when aligned on a little-endian host. */
export function bytesLEToU32(b: Uint8Array): Uint32Array {
  if (!(b instanceof Uint8Array)) throw new TypeError('b must be a Uint8Array');
  if (b.length % 4 !== 0) throw new RangeError(`b must have a length divisible by 4, got ${b.length}`);
  if (LITTLE_ENDIAN) {
    if (b.byteOffset % 4 === 0) return new Uint32Array(b.buffer, b.byteOffset, b.length / 4);
    return new Uint32Array(b.slice().buffer);
  }
  const out = new Uint32Array(b.length / 4);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = dv.getUint32(4 * i, true);
  return out;
}
