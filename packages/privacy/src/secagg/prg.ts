import { assertBytes } from '../crypto/bytes.js';
import type { PlatformCrypto } from '../platform/types.js';
import { addSignedInto, bytesLEToU32 } from './ring.js';

const ZERO_IV = new Uint8Array(16);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Largest mask length (elements): 2^29 keeps the keystream under the adapters' 2^31-byte cap. */
export const MAX_MASK_LENGTH = 2 ** 29;

export function assertVectorLength(name: string, m: unknown): asserts m is number {
  if (typeof m !== 'number' || !Number.isInteger(m)) throw new TypeError(`${name} must be an integer`);
  if (m < 1 || m > MAX_MASK_LENGTH) throw new RangeError(`${name} must be in [1, 2^29], got ${m}`);
}

/**
 * Mask expansion: the 32-byte seed is an AES-256 key; the mask is the AES-256-CTR keystream
 * from counter block 0, read as little-endian uint32 words. Every seed is used for exactly
 * one stream (pairwise seeds are unique per pair, session and round; self-mask seeds are fresh).
 */
export async function expandMask(platform: PlatformCrypto, seed: Uint8Array, m: number): Promise<Uint32Array> {
  assertBytes('seed', seed, 32);
  assertVectorLength('m', m);
  return bytesLEToU32(await platform.aes256Ctr(seed, ZERO_IV, 4 * m));
}

/** acc[base + i] += words[i] (mod 2^32). Small monomorphic helpers keep the hot loop optimized. */
function addAt(acc: Uint32Array, words: Uint32Array, base: number): void {
  const n = words.length;
  const a = acc.subarray(base, base + n);
  for (let i = 0; i < n; i++) a[i] = a[i]! + words[i]!;
}

function subAt(acc: Uint32Array, words: Uint32Array, base: number): void {
  const n = words.length;
  const a = acc.subarray(base, base + n);
  for (let i = 0; i < n; i++) a[i] = a[i]! - words[i]!;
}

/**
 * acc += sign_i * PRG(seed_i) for every (seed, sign) in `items`, with one expansion prefetched
 * so asynchronous platforms (WebCrypto) overlap keystream generation with the additions.
 */
export async function applyMasks(
  platform: PlatformCrypto,
  acc: Uint32Array,
  items: readonly { seed: Uint8Array; sign: 1 | -1 }[],
): Promise<void> {
  if (!(acc instanceof Uint32Array)) throw new TypeError('acc must be a Uint32Array');
  const m = acc.length;
  if (platform.aes256CtrEach && LITTLE_ENDIAN) {
    // Fused expand-and-add, chunk by chunk while the keystream is in cache.
    let scratch: Uint32Array | undefined;
    for (const { seed, sign } of items) {
      assertBytes('seed', seed, 32);
      await platform.aes256CtrEach(seed, ZERO_IV, 4 * m, (chunk, byteOffset) => {
        let words: Uint32Array;
        if (chunk.byteOffset % 4 === 0) words = new Uint32Array(chunk.buffer, chunk.byteOffset, chunk.length >>> 2);
        else {
          if (!scratch || scratch.length < chunk.length >>> 2) scratch = new Uint32Array(chunk.length >>> 2);
          words = scratch.subarray(0, chunk.length >>> 2);
          new Uint8Array(words.buffer, 0, chunk.length).set(chunk);
        }
        if (sign === 1) addAt(acc, words, byteOffset >>> 2);
        else subAt(acc, words, byteOffset >>> 2);
      });
    }
    return;
  }
  let next: Promise<Uint32Array> | undefined = items.length > 0 ? expandMask(platform, items[0]!.seed, m) : undefined;
  for (let i = 0; i < items.length; i++) {
    const cur: Uint32Array = await next!;
    next = i + 1 < items.length ? expandMask(platform, items[i + 1]!.seed, m) : undefined;
    next?.catch(() => undefined); // surfaced by the await above; avoid an unhandled rejection
    addSignedInto(acc, cur, items[i]!.sign);
  }
}
