/**
 * Chunked, sealed training uploads (protocol/v1.md section 5.4a). Wire schemas and sizes
 * only; the sealing itself (nacl.box) lives in @flock/privacy (crypto/sealed-update.ts).
 *
 *   C->S `round:upload` (ack)  {roundId, uploadId, modelVersion, numExamples, metrics?, byteLength, chunkBytes, seal?}
 *   C->S `round:chunk`  (ack)  {roundId, uploadId, index}, <binary chunk>
 *
 * Every chunk is acknowledged before the next is sent (backpressure); the ack of the last
 * chunk is the verdict on the whole update (the same codes `round:update` answered with).
 */
import * as z from 'zod/mini';
import { roundIdSchema, clientMetricsSchema, binarySchema, sealSuiteIdSchema } from './messages.js';

export const UPLOAD_EVENTS = {
  /** C->S with ack: announces an update of `byteLength` bytes in chunks of `chunkBytes`. */
  begin: 'round:upload',
  /** C->S with ack: one chunk (sealed unless the coordinator allows plaintext). */
  chunk: 'round:chunk',
} as const;

/**
 * Default largest plaintext chunk (1 MiB). Every chunk costs a socket.io event, a GCM context and
 * an ack both ways: 1 MiB instead of 256 KiB cut the coordinator's CPU per 4 MB update by ~1.2-1.3x
 * (bench/README.md, issue #15); a session then queues at most 2 MiB of chunks.
 */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
export const MIN_CHUNK_BYTES = 1024;
export const MAX_CHUNK_BYTES = 16 * 1024 * 1024;
/**
 * Most bytes a sealed chunk adds to its plaintext, over every suite: the legacy suite's nonce (24)
 * + Poly1305 tag (16) + SHA-256 of the bound context (32). The AES-256-GCM suite adds its tag (16).
 */
export const SEAL_OVERHEAD_BYTES = 72;
/** Sealing suites (5.4a), best first, and what each adds to a chunk. */
export const SEAL_SUITE_IDS = { aead: 'x25519-hkdf-sha256-aes-256-gcm', legacy: 'x25519-xsalsa20-poly1305' } as const;
export const SEAL_SUITE_OVERHEAD_BYTES: Readonly<Record<string, number>> = { [SEAL_SUITE_IDS.aead]: 16, [SEAL_SUITE_IDS.legacy]: 72 };
/** The client's key record in `round:upload`: Ed25519 identity key (32) | X25519 box key (32) | Ed25519 signature (64). */
export const SEAL_KEY_RECORD_BYTES = 128;
/** Room for the socket.io/engine.io envelope of a chunk frame (header object, event name, packet framing). */
export const CHUNK_ENVELOPE_BYTES = 16 * 1024;

const nonNegInt = z.int().check(z.nonnegative(), z.lte(Number.MAX_SAFE_INTEGER));
const posInt = z.int().check(z.positive(), z.lte(Number.MAX_SAFE_INTEGER));

/** A random id of one upload attempt (hex): chunks of an aborted attempt never count for a later one. */
export const uploadIdSchema = z.string().check(z.regex(/^[0-9a-f]{16,32}$/, 'must be 16-32 lowercase hex characters'));

export const uploadBeginSchema = z.object({
  roundId: roundIdSchema,
  uploadId: uploadIdSchema,
  modelVersion: nonNegInt,
  numExamples: posInt,
  metrics: z.optional(clientMetricsSchema),
  /** Plaintext length: exactly 4 bytes per model parameter. */
  byteLength: posInt,
  /** Plaintext bytes per chunk (the last may be shorter); at most the coordinator's bound. */
  chunkBytes: z.int().check(z.gte(MIN_CHUNK_BYTES), z.lte(MAX_CHUNK_BYTES)),
  /** Present when sealed: identityKey | boxKey | signature (SEAL_KEY_RECORD_BYTES); another length is a schema error. */
  seal: z.optional(binarySchema.check(z.refine((b) => b.byteLength === SEAL_KEY_RECORD_BYTES, `must be ${SEAL_KEY_RECORD_BYTES} bytes (identity key, box key, signature)`))),
  /** The sealing suite of the chunks (only with `seal`); absent: the legacy suite x25519-xsalsa20-poly1305. */
  sealSuite: z.optional(sealSuiteIdSchema),
});
export type UploadBegin = z.infer<typeof uploadBeginSchema>;

export const uploadChunkSchema = z.object({
  roundId: roundIdSchema,
  uploadId: uploadIdSchema,
  index: nonNegInt,
});
export type UploadChunk = z.infer<typeof uploadChunkSchema>;

export function chunkCount(byteLength: number, chunkBytes: number): number {
  return Math.ceil(byteLength / chunkBytes);
}

/** Plaintext bytes of chunk `index`. */
export function chunkPlainLength(byteLength: number, chunkBytes: number, index: number): number {
  return Math.min(chunkBytes, byteLength - index * chunkBytes);
}
