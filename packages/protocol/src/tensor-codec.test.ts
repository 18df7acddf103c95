import { describe, expect, it } from 'vitest';
import { decodeFloat32, encodeFloat32, firstNonFinite, hashModel, hashModelAsync, specSize } from './tensor-codec.js';
import type { ModelSpec } from './messages.js';
import { FlockError } from './errors.js';

const spec: ModelSpec = {
  format: 'flock-weights/v1',
  weights: [
    { name: 'dense/kernel', shape: [2, 3], dtype: 'float32' },
    { name: 'dense/bias', shape: [3], dtype: 'float32' },
  ],
};

describe('tensor codec', () => {
  it('round-trips float32 values through little-endian bytes', () => {
    const values = new Float32Array([0, -1.5, 3.25, 1e-30, -0, 65504, 1, 2, 3]);
    const bytes = encodeFloat32(values);
    expect(bytes.byteLength).toBe(36);
    // little-endian float32 1.0 is 00 00 80 3f
    expect(Array.from(bytes.subarray(24, 28))).toEqual([0x00, 0x00, 0x80, 0x3f]);
    const back = decodeFloat32(new Uint8Array(bytes), values.length);
    expect(Array.from(back)).toEqual(Array.from(values));
  });

  it('decodes from an unaligned view into an aligned copy', () => {
    const raw = new Uint8Array(13);
    raw.set(encodeFloat32(new Float32Array([1, 2, 3])), 1);
    expect(Array.from(decodeFloat32(raw.subarray(1), 3))).toEqual([1, 2, 3]);
  });

  it('rejects a payload of the wrong length with WRONG_SHAPE', () => {
    const bytes = encodeFloat32(new Float32Array(8));
    try {
      decodeFloat32(bytes, 9);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FlockError);
      expect((e as FlockError).code).toBe('WRONG_SHAPE');
    }
    expect(() => decodeFloat32(bytes.subarray(0, 31), 8)).toThrow(FlockError);
  });

  it('checks argument types', () => {
    expect(() => encodeFloat32([1, 2] as unknown as Float32Array)).toThrow(TypeError);
    expect(() => decodeFloat32(new Uint8Array(4), -1)).toThrow(RangeError);
  });

  it('finds the first non-finite value', () => {
    expect(firstNonFinite(new Float32Array([1, 2, 3]))).toBe(-1);
    expect(firstNonFinite(new Float32Array([1, NaN, 3]))).toBe(1);
    expect(firstNonFinite(new Float32Array([1, 2, -Infinity]))).toBe(2);
    expect(firstNonFinite(new Float32Array([3.4e38, -3.4e38]))).toBe(-1);
  });

  it('hashes spec and weights; any change in either changes the hash', () => {
    const w = new Float32Array(specSize(spec)).map((_, i) => i / 10);
    const h = hashModel(spec, w);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(hashModel(spec, w.slice())).toBe(h);
    const w2 = w.slice();
    w2[4] = Math.fround(w2[4]! + 1e-6);
    expect(hashModel(spec, w2)).not.toBe(h);
    const renamed: ModelSpec = { ...spec, weights: [{ ...spec.weights[0]!, name: 'other/kernel' }, spec.weights[1]!] };
    expect(hashModel(renamed, w)).not.toBe(h);
    const reshaped: ModelSpec = { ...spec, weights: [{ ...spec.weights[0]!, shape: [3, 2] }, spec.weights[1]!] };
    expect(hashModel(reshaped, w)).not.toBe(h);
    // Regression vector: the hash definition is part of protocol v1 and must not drift.
    expect(hashModel(spec, new Float32Array(9))).toBe('681fa796dadd58d376d48ac3362ef4dfb2acf11e0317540b7f2b9b0064ba1182');
    expect(() => hashModel(spec, new Float32Array(8))).toThrow(RangeError);
  });

  it('hashModelAsync (WebCrypto) gives exactly hashModel', async () => {
    expect(await hashModelAsync(spec, new Float32Array(9))).toBe('681fa796dadd58d376d48ac3362ef4dfb2acf11e0317540b7f2b9b0064ba1182');
    const w = new Float32Array(specSize(spec)).map((_, i) => Math.sin(i));
    expect(await hashModelAsync(spec, w)).toBe(hashModel(spec, w));
  });
});
