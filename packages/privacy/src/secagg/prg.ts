import { assertBytes } from '../crypto/bytes.js';
import type { PlatformCrypto } from '../platform/types.js';
import { addSignedInto, bytesLEToU32 } from './ring.js';
import { SimdRingAccumulator } from './ring-simd.js';

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

/** Below this length the WebAssembly set-up costs more than the SIMD additions save. */
export const SIMD_MIN_LENGTH = 2048;

export interface ApplyMasksOptions {
  /** Use the WebAssembly SIMD kernel when available (default true); false forces the JS loops. */
  simd?: boolean;
}

/**
 * acc += sign_i * PRG(seed_i) for every (seed, sign) in `items`.
 *
 * With a resumable platform keystream (`aes256CtrReader`) and m <= TILED_MAX_LENGTH the masks
 * are applied tile-major (see applyTiled); with a streaming one (`aes256CtrEach`) the keystream is folded in chunk by chunk
 * while it is in cache; otherwise one expansion is prefetched so asynchronous platforms (WebCrypto)
 * overlap keystream generation with the additions. The additions run on WebAssembly SIMD
 * (ring-simd.ts: the sum lives in WebAssembly memory for the duration of the call) when
 * available and m >= SIMD_MIN_LENGTH, else on plain JS loops; the result is the same bit for bit.
 * On error `acc` may be partially updated (JS path) or unchanged (SIMD path).
 */
export async function applyMasks(
  platform: PlatformCrypto,
  acc: Uint32Array,
  items: readonly { seed: Uint8Array; sign: 1 | -1 }[],
  opts: ApplyMasksOptions = {},
): Promise<void> {
  if (!(acc instanceof Uint32Array)) throw new TypeError('acc must be a Uint32Array');
  const m = acc.length;
  const simd = opts.simd !== false && items.length > 0 && m >= SIMD_MIN_LENGTH ? SimdRingAccumulator.create(m) : undefined;
  if (!simd) return applyMasksJs(platform, acc, items);
  try {
    simd.load(acc);
    if (platform.aes256CtrReader && m <= TILED_MAX_LENGTH) {
      const reader = platform.aes256CtrReader.bind(platform);
      if (platform.maskHelpers && typeof SharedArrayBuffer === 'function' && items.length >= 2 && 4 * m * items.length >= PARALLEL_MIN_BYTES) {
        await applyShared(platform.maskHelpers.bind(platform), reader, simd, m, items);
      } else applyTiled(reader, simd, m, items);
    } else if (platform.aes256CtrEach) {
      for (const { seed, sign } of items) {
        assertBytes('seed', seed, 32);
        await platform.aes256CtrEach(seed, ZERO_IV, 4 * m, (chunk, byteOffset) => simd.addBytes(chunk, byteOffset >>> 2, sign));
      }
    } else {
      await forEachExpanded(platform, m, items, (mask, sign) => simd.addWords(mask, 0, sign));
    }
    simd.store(acc);
  } finally {
    simd.release(); // zeroes the sum (on error: a starting value plus some masks) and the keystream
  }
}

/** Bytes of the accumulator updated by all streams before moving on (stays in L1/L2 cache). */
export const TILE_BYTES = 64 * 1024;

/**
 * Longest vector applied tile-major (a 1 MiB accumulator). Measured on the benchmark VM: at
 * m = 1e5 tile-major was ~2x faster than stream-by-stream; at m = 1e6 the two were on par on
 * most runs but tile-major was sometimes several times slower (bimodal, not understood yet:
 * suspected allocation / page-fault behaviour of many interleaved node:crypto streams), so longer
 * vectors go stream by stream.
 */
export const TILED_MAX_LENGTH = 2 ** 18;

/**
 * Tile-major mask application: one keystream reader per item, and for each 64 KiB tile of the
 * accumulator, the tile's keystream of every item is folded in while the tile is in cache
 * (mask-major order would stream the whole accumulator through memory once per mask).
 */
function applyTiled(
  reader: NonNullable<PlatformCrypto['aes256CtrReader']>,
  simd: SimdRingAccumulator,
  m: number,
  items: readonly { seed: Uint8Array; sign: 1 | -1 }[],
): void {
  for (const { seed } of items) assertBytes('seed', seed, 32);
  const readers: ReturnType<typeof reader>[] = [];
  try {
    for (const { seed } of items) readers.push(reader(seed, ZERO_IV));
    const total = 4 * m;
    for (let off = 0; off < total; off += TILE_BYTES) {
      const len = Math.min(TILE_BYTES, total - off);
      for (let i = 0; i < readers.length; i++) simd.addBytes(readers[i]!.next(len), off >>> 2, items[i]!.sign);
    }
  } finally {
    for (const r of readers) r.close();
  }
}

/** Keystream bytes below which helper threads are not worth waking. */
export const PARALLEL_MIN_BYTES = 8 * 1024 * 1024;

/**
 * Work sharing with the platform's helper threads: this thread and the helpers claim batches of
 * items from a shared counter until none are left (so a slow or still-starting helper simply
 * takes fewer), each summing its items tile-major; the helpers' partial sums are added at the end.
 * Exact: every item is claimed exactly once and addition mod 2^32 is associative.
 */
async function applyShared(
  helpers: NonNullable<PlatformCrypto['maskHelpers']>,
  reader: NonNullable<PlatformCrypto['aes256CtrReader']>,
  simd: SimdRingAccumulator,
  m: number,
  items: readonly { seed: Uint8Array; sign: 1 | -1 }[],
): Promise<void> {
  const count = items.length;
  const seeds = new Uint8Array(32 * count);
  const signs = new Int8Array(count);
  for (let i = 0; i < count; i++) {
    assertBytes('seed', items[i]!.seed, 32);
    seeds.set(items[i]!.seed, 32 * i);
    signs[i] = items[i]!.sign;
  }
  const state = new Int32Array(new SharedArrayBuffer(8));
  const batch = Math.max(2, Math.min(32, Math.ceil(count / 24)));
  let partials: Promise<Uint32Array[]> | undefined;
  try {
    partials = helpers({ m, seeds, signs, state, batch, tileBytes: TILE_BYTES });
  } finally {
    seeds.fill(0); // the helpers got a copy
  }
  partials?.catch(() => undefined); // awaited below only if some helper joined
  for (;;) {
    const start = Atomics.add(state, 0, batch);
    if (start >= count) break;
    applyTiled(reader, simd, m, items.slice(start, Math.min(count, start + batch)));
  }
  // Every item is claimed now. A helper that had not joined yet will claim nothing.
  if (partials && Atomics.load(state, 1) > 0) {
    for (const p of await partials) {
      simd.addWords(p, 0, 1);
      p.fill(0);
    }
  }
}

/** Calls `f` with each item's expanded mask, the next expansion prefetched. */
async function forEachExpanded(
  platform: PlatformCrypto,
  m: number,
  items: readonly { seed: Uint8Array; sign: 1 | -1 }[],
  f: (mask: Uint32Array, sign: 1 | -1) => void,
): Promise<void> {
  let next: Promise<Uint32Array> | undefined = items.length > 0 ? expandMask(platform, items[0]!.seed, m) : undefined;
  for (let i = 0; i < items.length; i++) {
    const cur: Uint32Array = await next!;
    next = i + 1 < items.length ? expandMask(platform, items[i + 1]!.seed, m) : undefined;
    next?.catch(() => undefined); // surfaced by the await above; avoid an unhandled rejection
    f(cur, items[i]!.sign);
  }
}

/** The plain-JS path of applyMasks. */
async function applyMasksJs(platform: PlatformCrypto, acc: Uint32Array, items: readonly { seed: Uint8Array; sign: 1 | -1 }[]): Promise<void> {
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
  await forEachExpanded(platform, m, items, (mask, sign) => addSignedInto(acc, mask, sign));
}
