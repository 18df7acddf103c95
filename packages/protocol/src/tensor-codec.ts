import { sha256 } from '@noble/hashes/sha2.js';
import { isBinary, toBytes, type BinaryInput } from './binary.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { FlockError } from './errors.js';
import { modelSpecSchema, type ModelSpec } from './messages.js';

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Number of scalars a model spec describes. */
export function specSize(spec: ModelSpec): number {
  let n = 0;
  for (const w of spec.weights) n += w.shape.reduce((a, b) => a * b, 1);
  return n;
}

/** Canonical bytes of a spec: fixed key order, so every party hashes the same text. */
export function canonicalSpec(spec: ModelSpec): string {
  return JSON.stringify({
    format: spec.format,
    weights: spec.weights.map((w) => ({ name: w.name, shape: w.shape, dtype: w.dtype })),
  });
}

/**
 * Encodes a flat float32 vector as little-endian bytes (the wire and storage form).
 * On little-endian hosts this is a view, not a copy.
 */
export function encodeFloat32(values: Float32Array): Uint8Array {
  if (!(values instanceof Float32Array)) throw new TypeError('values must be a Float32Array');
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return out;
}

/** Normalises a binary attachment (Buffer, Uint8Array, ArrayBuffer or a typed-array view) to a Uint8Array view (binary.ts). */
export function asBytes(payload: BinaryInput): Uint8Array {
  if (!isBinary(payload)) throw new TypeError('payload must be a Uint8Array, an ArrayBuffer or a typed-array view');
  return toBytes(payload);
}

/**
 * Decodes little-endian float32 bytes for a spec. Throws WRONG_SHAPE if the byte length
 * is not exactly 4 bytes per parameter. Always returns an aligned copy owned by the caller.
 */
export function decodeFloat32(bytes: Uint8Array, expectedLength: number): Float32Array {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
  if (!Number.isInteger(expectedLength) || expectedLength < 0) throw new RangeError('expectedLength must be a non-negative integer');
  if (bytes.byteLength !== expectedLength * 4) {
    throw new FlockError('WRONG_SHAPE', `payload has ${bytes.byteLength} bytes; the model needs ${expectedLength * 4} (${expectedLength} float32 values)`, {
      receivedBytes: bytes.byteLength,
      expectedBytes: expectedLength * 4,
    });
  }
  const out = new Float32Array(expectedLength);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(bytes);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < expectedLength; i++) out[i] = view.getFloat32(i * 4, true);
  }
  return out;
}

/** Index of the first NaN or +-Infinity, or -1. */
export function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    // v - v is NaN exactly when v is NaN or infinite; cheaper than Number.isFinite per element.
    if (v - v !== 0) return i;
  }
  return -1;
}

/**
 * The model hash: SHA-256 over a domain tag, the canonical spec (length-prefixed) and the
 * little-endian weight bytes. Hex, lowercase.
 */
export function hashModel(spec: ModelSpec, weights: Float32Array): string {
  const [prefix, body] = hashInput(spec, weights);
  const h = sha256.create();
  h.update(prefix);
  h.update(body);
  return bytesToHex(h.digest());
}

/** The two parts the model hash covers: domain tag | u32le(len(spec)) | spec, then the weights. */
function hashInput(spec: ModelSpec, weights: Float32Array): [Uint8Array, Uint8Array] {
  const parsed = modelSpecSchema.safeParse(spec);
  if (!parsed.success) throw new TypeError('spec must be a valid ModelSpec');
  if (!(weights instanceof Float32Array)) throw new TypeError('weights must be a Float32Array');
  if (weights.length !== specSize(spec)) throw new RangeError(`weights has ${weights.length} values; spec needs ${specSize(spec)}`);
  const tag = utf8ToBytes('flock/model/v1\0');
  const specBytes = utf8ToBytes(canonicalSpec(spec));
  const prefix = new Uint8Array(tag.length + 4 + specBytes.length);
  prefix.set(tag);
  new DataView(prefix.buffer).setUint32(tag.length, specBytes.length, true);
  prefix.set(specBytes, tag.length + 4);
  return [prefix, encodeFloat32(weights)];
}

/**
 * The same hash as hashModel through WebCrypto's native SHA-256 (browsers, Node >= 20):
 * several times faster for large models; falls back to hashModel where subtle is missing.
 */
export async function hashModelAsync(spec: ModelSpec, weights: Float32Array): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return hashModel(spec, weights);
  const [prefix, body] = hashInput(spec, weights);
  const all = new Uint8Array(prefix.length + body.length);
  all.set(prefix);
  all.set(body, prefix.length);
  return bytesToHex(new Uint8Array(await subtle.digest('SHA-256', all)));
}
