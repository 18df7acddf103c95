/** Vectors of protocol/v1.md section 6: the tensor codec and the model hash. */
import { createHash } from 'node:crypto';
import { canonicalSpec, encodeFloat32, hashModel, specSize, type ModelSpec } from '@flock/protocol';
import { hex } from '../fixed-random.js';

/** Big-endian hex of a float32's bit pattern (how the value reads in IEEE 754 tables). */
function bits(v: number): string {
  const b = Buffer.alloc(4);
  b.writeFloatBE(v);
  return b.toString('hex');
}

export function tensorCodec(): Record<string, unknown> {
  // Values chosen to pin the byte order and the float32 rounding: exact halves, a value that
  // rounds (0.1), negative zero, the smallest subnormal, the largest finite float32.
  const values = [1, 0.5, -2, 0, -0, 0.1, 1e-45, 3.4028234663852886e38, -1.5e-10, 123456.789];
  const f32 = Float32Array.from(values);
  const bytes = encodeFloat32(f32);
  // Independent encoding with Buffer.writeFloatLE.
  const check = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => check.writeFloatLE(v, 4 * i));
  if (hex(bytes) !== check.toString('hex')) throw new Error('encodeFloat32 differs from Buffer.writeFloatLE');
  const nonFinite = Buffer.alloc(16);
  [0.25, Infinity, NaN, -Infinity].forEach((v, i) => nonFinite.writeFloatLE(v, 4 * i));
  return {
    about: 'Tensor codec (protocol/v1.md 6.2): n float32 values as 4n bytes, IEEE 754 binary32, little-endian, no header.',
    source:
      'protocol/vectors/generate.ts (build/codec.ts): encodeFloat32 of @flock/protocol on Float32Array.from(inputs); cross-checked against Node Buffer.writeFloatLE. `float32Bits` is the big-endian bit pattern of each value after rounding to float32 (-0 keeps its sign bit there; JSON cannot write -0).',
    encode: {
      inputs: values.map((v) => (Object.is(v, -0) ? '-0' : v)),
      float32: Array.from(f32, (v) => (Object.is(v, -0) ? '-0' : v)),
      float32Bits: Array.from(f32, bits),
      bytes: hex(bytes),
    },
    nonFinite: {
      about: 'Decodes to [0.25, +Infinity, NaN, -Infinity]; the first non-finite value is at index 1 (the coordinator answers NON_FINITE with details.index = 1).',
      bytes: nonFinite.toString('hex'),
      firstNonFinite: 1,
    },
    wrongLength: {
      about: 'A payload that is not exactly 4 * numParams bytes is refused with WRONG_SHAPE and these details.',
      numParams: 3,
      bytes: '0000803f0000003f000000c000',
      error: { code: 'WRONG_SHAPE', details: { receivedBytes: 13, expectedBytes: 12 } },
    },
  };
}

function hashCase(name: string, spec: unknown, weights: Float32Array): Record<string, unknown> {
  const s = spec as ModelSpec;
  const text = canonicalSpec(s);
  const specBytes = Buffer.from(text, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(specBytes.length);
  const prefix = Buffer.concat([Buffer.from('flock/model/v1\0', 'ascii'), len, specBytes]);
  const weightBytes = Buffer.from(encodeFloat32(weights));
  const hash = hashModel(s, weights);
  // Independent hash with node:crypto over the documented input.
  const check = createHash('sha256').update(prefix).update(weightBytes).digest('hex');
  if (check !== hash) throw new Error(`model hash ${name}: hashModel differs from SHA-256 of the documented input`);
  return {
    name,
    spec,
    numParams: specSize(s),
    canonicalSpec: text,
    canonicalSpecBytes: specBytes.length,
    weights: Array.from(weights),
    weightBytes: weightBytes.toString('hex'),
    hashInputPrefix: prefix.toString('hex'),
    modelHash: hash,
  };
}

export function modelHash(): Record<string, unknown> {
  const spec = {
    format: 'flock-weights/v1',
    weights: [
      { name: 'dense/kernel', shape: [2, 3], dtype: 'float32' },
      { name: 'dense/bias', shape: [3], dtype: 'float32' },
    ],
  };
  // Key order, unknown fields, a scalar, a zero dimension and every escaping rule of 6.3.
  const awkward = {
    weights: [
      { dtype: 'float32', shape: [], name: 'scalar "q\\uote\\" \u0001\t\u007f é ☃ 😀', note: 'unknown fields are not hashed' },
      { shape: [0, 3], dtype: 'float32', name: 'empty' },
      { name: 'v', dtype: 'float32', shape: [2] },
    ],
    format: 'flock-weights/v1',
    extra: true,
  };
  return {
    about: 'Model hash (protocol/v1.md 6.3): SHA-256( "flock/model/v1" NUL | u32le(byteLength(canonicalSpec)) | canonicalSpec (UTF-8) | weight bytes (6.2) ), lowercase hex.',
    source:
      'protocol/vectors/generate.ts (build/codec.ts): canonicalSpec and hashModel of @flock/protocol; every hash cross-checked against node:crypto SHA-256 of hashInputPrefix | weightBytes. The first two cases are the worked example of v1.md 6.3.',
    cases: [
      hashCase('worked example, zeros', spec, new Float32Array(9)),
      hashCase('worked example, i/10', spec, Float32Array.from({ length: 9 }, (_, i) => i / 10)),
      hashCase('key order, unknown fields, scalar, zero dimension, escapes', awkward, Float32Array.from([-1.5, 0.25, 3])),
    ],
  };
}
