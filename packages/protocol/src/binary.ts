/**
 * Binary fields at the protocol boundary. socket.io delivers binary attachments as Buffer in
 * Node and as ArrayBuffer in browsers (engine.io's binaryType), and apps may hand any typed-array
 * view; every binary field of every message is parsed with `bytesSchema`, which accepts all of
 * these and produces a Uint8Array, so code past the schema sees one type wherever it runs.
 */
import * as z from 'zod/mini';

/** Whatever a binary field may arrive as. */
export type BinaryInput = Uint8Array | ArrayBuffer | ArrayBufferView;

/** An ArrayBuffer, also one from another realm (a worker or an iframe), where instanceof fails. */
function isArrayBuffer(v: unknown): v is ArrayBuffer {
  return v instanceof ArrayBuffer || Object.prototype.toString.call(v) === '[object ArrayBuffer]';
}

/** True for a Uint8Array/Buffer, an ArrayBuffer or any typed-array or DataView. */
export function isBinary(v: unknown): v is BinaryInput {
  return v instanceof Uint8Array || isArrayBuffer(v) || ArrayBuffer.isView(v);
}

/**
 * The bytes of a binary value as a Uint8Array: a Uint8Array (or Buffer) as it is, an ArrayBuffer
 * or another view wrapped without copying. Throws a TypeError for anything else.
 */
export function toBytes(v: BinaryInput): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (isArrayBuffer(v)) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  throw new TypeError('value must be a Uint8Array, an ArrayBuffer or a typed-array view');
}

/** A binary message field: accepts Uint8Array, Buffer, ArrayBuffer or a typed-array view; parses to a Uint8Array. */
export const bytesSchema = z.pipe(
  z.custom<BinaryInput>(isBinary, { message: 'must be binary (a Uint8Array, an ArrayBuffer or a typed-array view)' }),
  z.transform((v: BinaryInput): Uint8Array => toBytes(v)),
);

/** A binary field of exactly `n` bytes. */
export function bytesOfLength(n: number, message = `must be ${n} bytes`) {
  return bytesSchema.check(z.refine((b: Uint8Array) => b.length === n, { message }));
}
