// Cryptographic randomness for the DP samplers. The ONLY source is
// globalThis.crypto.getRandomValues (WebCrypto in browsers, Node >= 19 globally), so the
// library stays isomorphic. Math.random is never used: its state can be recovered from
// a few outputs, which would let an observer subtract the "noise".
//
// Random words are drawn in blocks (getRandomValues is limited to 65,536 bytes per call
// and each call has a fixed cost), and integers in a range are produced by rejection so
// they are exactly uniform (no modulo bias).

const BLOCK_WORDS = 4096; // 16 KiB per getRandomValues call

let block = new Uint32Array(0);
let pos = 0;

function cryptoSource(): Crypto {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (!c || typeof c.getRandomValues !== 'function') {
    throw new Error('globalThis.crypto.getRandomValues is not available (need Node >= 19 or a browser)');
  }
  return c;
}

/** A uniform 32-bit unsigned integer. */
export function randomUint32(): number {
  if (pos >= block.length) {
    if (block.length === 0) block = new Uint32Array(BLOCK_WORDS);
    cryptoSource().getRandomValues(block);
    pos = 0;
  }
  return block[pos++]!;
}

let bitWord = 0;
let bitsLeft = 0;

/** A uniform bit (0 or 1); 32 bits are taken from each word. */
export function randomBit(): number {
  if (bitsLeft === 0) {
    bitWord = randomUint32();
    bitsLeft = 32;
  }
  const b = bitWord & 1;
  bitWord >>>= 1;
  bitsLeft--;
  return b;
}

const TWO32 = 4294967296;

/** A uniform integer in [0, 2^53). */
export function randomUint53(): number {
  return (randomUint32() >>> 11) * TWO32 + randomUint32();
}

/**
 * A uniform integer in [0, n) for an integer 1 <= n <= 2^53, by rejection: draw
 * ceil(log2 n) random bits and retry when the value is >= n (success probability > 1/2).
 */
export function randomBelow(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 53) throw new RangeError(`randomBelow: n must be an integer in [1, 2^53], got ${n}`);
  return belowUnchecked(n);
}

/** randomBelow without the argument check, for samplers that guarantee it. */
function belowUnchecked(n: number): number {
  if (n === 1) return 0;
  if (n <= TWO32) {
    // Rejection on the top of the 32-bit range keeps the result exactly uniform.
    const limit = TWO32 - (TWO32 % n);
    for (;;) {
      const x = randomUint32();
      if (x < limit) return x % n;
    }
  }
  // Bit length of the high part of n - 1 (computed on integers: log2 can round to an
  // integer just above a power of two and would silently exclude the top value).
  const hiBits = 32 - Math.clz32(Math.floor((n - 1) / TWO32));
  const hiMask = (1 << hiBits) - 1;
  for (;;) {
    const x = ((randomUint32() & hiMask) >>> 0) * TWO32 + randomUint32();
    if (x < n) return x;
  }
}

/** A uniform bigint in [0, n) for n >= 1, by rejection on bit length. */
export function randomBigBelow(n: bigint): bigint {
  if (n < 1n) throw new RangeError('randomBigBelow: n must be >= 1');
  if (n === 1n) return 0n;
  const bits = (n - 1n).toString(2).length;
  const words = Math.ceil(bits / 32);
  const topMask = BigInt(2 ** (bits - 32 * (words - 1)) - 1);
  for (;;) {
    let x = BigInt(randomUint32()) & topMask;
    for (let i = 1; i < words; i++) x = (x << 32n) | BigInt(randomUint32());
    if (x < n) return x;
  }
}

/** A uniform double in the open interval (0, 1), with 53 random bits. */
export function randomOpenUnit(): number {
  for (;;) {
    const m = randomUint53();
    if (m !== 0) return m / 2 ** 53;
  }
}

/**
 * The same helpers as one object. Hot loops in other modules call through this (bound
 * once to a local constant) rather than through imported function bindings, which
 * some ESM-to-CJS transforms (tsx, vitest) turn into a getter call per use.
 */
export const cryptoRandom = Object.freeze({
  uint32: randomUint32,
  bit: randomBit,
  uint53: randomUint53,
  /** Unchecked: the caller guarantees an integer 1 <= n <= 2^53. */
  below: belowUnchecked,
  bigBelow: randomBigBelow,
  openUnit: randomOpenUnit,
});
