/**
 * The platform adapter: the only place where @flock/privacy touches platform crypto.
 *
 * `web.ts` implements it with `globalThis.crypto` (browsers, Deno, Bun, Node >= 20);
 * `node.ts` implements it with `node:crypto` and is exported as `@flock/privacy/node`.
 * Both MUST produce byte-identical AES-256-CTR keystreams (tested).
 */
export interface PlatformCrypto {
  /** A short name for logs and benchmarks ('web', 'node'). */
  readonly name?: string;
  /** `n` bytes from the platform CSPRNG. */
  randomBytes(n: number): Uint8Array;
  /**
   * The AES-256-CTR keystream of `byteLength` bytes for `key` (32 bytes) starting at the
   * 128-bit big-endian counter block `iv` (16 bytes); the whole block is the counter
   * (WebCrypto `length: 128`, same as OpenSSL's aes-256-ctr).
   */
  aes256Ctr(key: Uint8Array, iv: Uint8Array, byteLength: number): Promise<Uint8Array>;
  /**
   * Optional streaming form of `aes256Ctr`: calls `sink(chunk, byteOffset)` for consecutive
   * keystream chunks (lengths multiple of 16 except possibly the last; chunks are only valid
   * during the call). Lets callers fold the keystream into an accumulator while it is in cache,
   * without allocating the whole stream. Same bytes as `aes256Ctr`.
   */
  aes256CtrEach?(key: Uint8Array, iv: Uint8Array, byteLength: number, sink: (chunk: Uint8Array, byteOffset: number) => void): Promise<void>;
  /**
   * Optional resumable, synchronous form of `aes256Ctr` (platforms with synchronous AES only):
   * `next(n)` returns the next n bytes of the keystream of `key` from counter block `iv` (valid
   * until the next call on any reader), `close()` releases the context. Lets callers interleave
   * many streams tile by tile, so a long accumulator stays in cache across all of them.
   * Same bytes as `aes256Ctr`.
   */
  aes256CtrReader?(key: Uint8Array, iv: Uint8Array): KeystreamReader;
  /**
   * Optional helper threads for mask application (Node: worker_threads). The helpers claim
   * batches of items through `job.state` exactly like the caller does (see `MaskJob`) and the
   * promise resolves with their partial sums, one per helper that claimed anything. Returns
   * undefined (synchronously) when no helper is available.
   */
  maskHelpers?(job: MaskJob): Promise<Uint32Array[]> | undefined;
  /**
   * Optional native Ed25519 verification (RFC 8032). Callers fall back to tweetnacl
   * when it is absent or throws (e.g. a browser without WebCrypto Ed25519).
   */
  ed25519Verify?(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
  /**
   * Optional native X25519 (RFC 7748) of `secretKey` (whose public key is `publicKey`) with
   * `peerPublicKey`. Adapters may throw on low-order points; callers then fall back to
   * tweetnacl, whose all-zero output the caller rejects.
   */
  x25519?(secretKey: Uint8Array, publicKey: Uint8Array, peerPublicKey: Uint8Array): Promise<Uint8Array>;
  /** Optional native Ed25519 signing with a 32-byte seed; same fallback rule. */
  ed25519Sign?(seed: Uint8Array, publicKey: Uint8Array, message: Uint8Array): Promise<Uint8Array>;
  /**
   * HKDF-SHA256 (RFC 5869) of `ikm` with `salt` and `info`, `length` bytes (at most 255 * 32).
   * Optional: callers fall back to WebCrypto (`webPlatform`) when it is absent.
   */
  hkdfSha256?(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array>;
  /**
   * AES-256-GCM (NIST SP 800-38D) encryption with a 96-bit nonce and a 128-bit tag:
   * returns ciphertext | tag (plaintext length + 16). Optional; same fallback as `hkdfSha256`.
   */
  aes256GcmSeal?(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array>;
  /** Opens `aes256GcmSeal` output (ciphertext | tag); undefined when the tag does not verify. */
  aes256GcmOpen?(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Promise<Uint8Array | undefined>;
}

/** Shared input checks of the AES-GCM adapters. */
export function checkGcmArgs(key: unknown, nonce: unknown, aad: unknown, data: unknown, minLength = 0): void {
  if (!(key instanceof Uint8Array)) throw new TypeError('key must be a Uint8Array');
  if (key.length !== 32) throw new RangeError(`key must be 32 bytes, got ${key.length}`);
  if (!(nonce instanceof Uint8Array)) throw new TypeError('nonce must be a Uint8Array');
  if (nonce.length !== 12) throw new RangeError(`nonce must be 12 bytes, got ${nonce.length}`);
  if (!(aad instanceof Uint8Array)) throw new TypeError('aad must be a Uint8Array');
  if (!(data instanceof Uint8Array)) throw new TypeError('data must be a Uint8Array');
  if (data.length < minLength || data.length > MAX_KEYSTREAM_BYTES) throw new RangeError(`data must be ${minLength} to 2^31 bytes, got ${data.length}`);
}

/** Shared input checks of the HKDF adapters. */
export function checkHkdfArgs(ikm: unknown, salt: unknown, info: unknown, length: unknown): void {
  for (const [name, v] of [['ikm', ikm], ['salt', salt], ['info', info]] as const) if (!(v instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (typeof length !== 'number' || !Number.isInteger(length)) throw new TypeError('length must be an integer');
  if (length < 1 || length > 255 * 32) throw new RangeError(`length must be in [1, 8160], got ${length}`);
}

/** A resumable keystream (see `PlatformCrypto.aes256CtrReader`). */
export interface KeystreamReader {
  next(byteLength: number): Uint8Array;
  close(): void;
}

/**
 * A share-the-work mask summation: item i is the keystream of key seeds[32i, 32i+32) from
 * counter block 0, read as m little-endian uint32 words, with sign signs[i]. Whoever runs an item
 * adds sign * words to its own partial sum (mod 2^32). Items are claimed in batches with
 * `Atomics.add(state, 0, batch)` (state[0] = next unclaimed index, on a SharedArrayBuffer); a
 * helper increments state[1] before its first claim, so once state[0] >= count a caller that
 * reads state[1] === 0 knows no helper holds any item.
 */
export interface MaskJob {
  m: number;
  seeds: Uint8Array;
  signs: Int8Array;
  state: Int32Array;
  batch: number;
  tileBytes: number;
}

/** Largest keystream one call may ask for (2^32 bytes would overflow 32-bit lengths). */
export const MAX_KEYSTREAM_BYTES = 2 ** 31;

/** Shared input checks of the adapters (TypeError for the type, RangeError for the size). */
export function checkAesArgs(key: unknown, iv: unknown, byteLength: unknown): void {
  if (!(key instanceof Uint8Array)) throw new TypeError('key must be a Uint8Array');
  if (key.length !== 32) throw new RangeError(`key must be 32 bytes, got ${key.length}`);
  if (!(iv instanceof Uint8Array)) throw new TypeError('iv must be a Uint8Array');
  if (iv.length !== 16) throw new RangeError(`iv must be 16 bytes, got ${iv.length}`);
  if (typeof byteLength !== 'number' || !Number.isInteger(byteLength)) throw new TypeError('byteLength must be an integer');
  if (byteLength < 0 || byteLength > MAX_KEYSTREAM_BYTES) throw new RangeError(`byteLength must be in [0, 2^31], got ${byteLength}`);
}

export function checkRandomArgs(n: unknown): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new TypeError('n must be an integer');
  if (n < 0 || n > MAX_KEYSTREAM_BYTES) throw new RangeError(`n must be in [0, 2^31], got ${n}`);
}

/** Adds `blocks` to a 128-bit big-endian counter block (mod 2^128), returning a new block. */
export function addToCounter(iv: Uint8Array, blocks: number): Uint8Array {
  const out = iv.slice();
  let carry = blocks;
  for (let i = 15; i >= 0 && carry > 0; i--) {
    const v = out[i]! + (carry % 256);
    out[i] = v & 0xff;
    carry = Math.floor(carry / 256) + (v >> 8);
  }
  return out;
}
