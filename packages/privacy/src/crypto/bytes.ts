/** Byte helpers shared by the crypto and secagg modules. */

const encoder = new TextEncoder();

export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Unsigned 64-bit big-endian encoding of a non-negative safe integer. */
export function u64be(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`expected a non-negative safe integer, got ${n}`);
  const out = new Uint8Array(8);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, Math.floor(n / 2 ** 32));
  dv.setUint32(4, n >>> 0);
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Unambiguous encoding of a field list: each field is a 4-byte big-endian length followed by
 * its bytes (strings as UTF-8, numbers as u64be). Used for every hash / signature / AEAD context.
 */
export function lengthPrefixed(...fields: (Uint8Array | string | number)[]): Uint8Array {
  // Sized first, then written into one buffer: no per-field length arrays (this runs for every
  // upload's key derivation and chunk context on the coordinator).
  const encoded: Array<Uint8Array | number> = new Array(fields.length);
  let total = 0;
  for (let k = 0; k < fields.length; k++) {
    const f = fields[k]!;
    if (typeof f === 'number') {
      if (!Number.isSafeInteger(f) || f < 0) throw new RangeError(`expected a non-negative safe integer, got ${f}`);
      encoded[k] = f;
      total += 12;
    } else {
      const b = typeof f === 'string' ? utf8(f) : f;
      encoded[k] = b;
      total += 4 + b.length;
    }
  }
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  let off = 0;
  for (const e of encoded) {
    if (typeof e === 'number') {
      dv.setUint32(off, 8);
      dv.setUint32(off + 4, Math.floor(e / 2 ** 32));
      dv.setUint32(off + 8, e >>> 0);
      off += 12;
    } else {
      dv.setUint32(off, e.length);
      out.set(e, off + 4);
      off += 4 + e.length;
    }
  }
  return out;
}

/** Constant-time equality for equal-length inputs (length itself is not secret). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** Lexicographic byte comparison (-1, 0, 1). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export function isAllZero(a: Uint8Array): boolean {
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]!;
  return d === 0;
}

/** Throws TypeError / RangeError naming `name` unless `value` is a Uint8Array of `length` bytes. */
export function assertBytes(name: string, value: unknown, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${name} must be ${length} bytes, got ${value.length}`);
  }
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(hex: string): Uint8Array {
  if (typeof hex !== 'string') throw new TypeError('hex must be a string');
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new RangeError('hex must be an even-length hex string');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
