import nacl from 'tweetnacl';
import { afterAll, describe, expect, it } from 'vitest';
import { nodePlatform, nodePlatformWithMaskHelpers } from '../platform/node.js';
import { stopNodeMaskHelpers } from '../platform/node-mask-worker.js';
import type { PlatformCrypto } from '../platform/types.js';
import { webPlatform } from '../platform/web.js';
import { applyMasks, expandMask, PARALLEL_MIN_BYTES, SIMD_MIN_LENGTH, TILE_BYTES } from './prg.js';
import { addInto, subInto } from './ring.js';
import { reconstructMaskKey, shareSecret } from './shamir.js';
import { assembleRingSimd } from './ring-simd.asm.js';
import { RING_SIMD_WASM_HEX, ringSimdAvailable, ringSimdBytes, SIMD_SCRATCH_BYTES, SimdRingAccumulator } from './ring-simd.js';

/** Deterministic pseudo-random words (xorshift32), with the extremes mixed in to force wraparound. */
function words(n: number, seed: number): Uint32Array {
  const out = new Uint32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = i % 7 === 0 ? 0xffffffff : i % 11 === 0 ? 0x80000000 : x;
  }
  return out;
}

/** Index of the first difference (-1 when equal); much faster than toEqual on long typed arrays. */
function firstDiff(a: Uint32Array, b: Uint32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Reference: acc[offset + i] += sign * w[i] with plain numbers (mod 2^32). */
function reference(acc: Uint32Array, w: Uint32Array, offset: number, sign: 1 | -1): void {
  for (let i = 0; i < w.length; i++) acc[offset + i] = (acc[offset + i]! + sign * w[i]! + 2 ** 32) % 2 ** 32;
}

describe('WebAssembly SIMD ring kernel', () => {
  it('embeds exactly the assembled ring-simd.wat', () => {
    expect(Array.from(ringSimdBytes())).toEqual(Array.from(assembleRingSimd()));
    expect(RING_SIMD_WASM_HEX.length).toBe(2 * assembleRingSimd().length);
  });

  it('is available on Node (validates, little-endian host)', () => {
    expect(WebAssembly.validate(ringSimdBytes())).toBe(true);
    expect(ringSimdAvailable()).toBe(true);
  });

  it('adds and subtracts like the JS ring for random vectors, odd lengths and wraparound', () => {
    const lengths = [1, 2, 3, 4, 5, 7, 15, 16, 17, 31, 63, 64, 65, 127, 1000, 1001, 4099, 65_537];
    for (const [j, n] of lengths.entries()) {
      const start = words(n, 1 + j);
      const acc = SimdRingAccumulator.create(n)!;
      expect(acc).toBeDefined();
      acc.load(start);
      const expected = start.slice();
      for (const [r, sign] of ([1, -1, -1, 1] as const).entries()) {
        const w = words(n, 100 * j + r + 7);
        acc.addWords(w, 0, sign);
        if (sign === 1) addInto(expected, w);
        else subInto(expected, w);
      }
      const out = new Uint32Array(n);
      acc.store(out);
      expect(firstDiff(out, expected)).toBe(-1);
      acc.wipe();
      expect(acc.value.every((x) => x === 0)).toBe(true);
      acc.release(); // back to the pool: the next (longer) accumulator reuses or grows it
    }
  });

  it('reuses released memory, zeroed, and refuses use after release', () => {
    const a = SimdRingAccumulator.create(5000)!;
    a.load(words(5000, 1));
    a.addWords(words(5000, 2), 0, 1);
    a.release();
    a.release(); // idempotent
    expect(() => a.addWords(new Uint32Array(1), 0, 1)).toThrow(/released/);
    expect(() => a.load(new Uint32Array(5000))).toThrow(/released/);
    for (const n of [5000, 100, 70_000]) {
      const b = SimdRingAccumulator.create(n)!;
      expect(b.value.every((x) => x === 0)).toBe(true);
      b.load(words(n, n));
      b.release();
    }
    const c = SimdRingAccumulator.create(70_000)!;
    expect(c.value.every((x) => x === 0)).toBe(true);
    c.release();
  });

  it('wraps mod 2^32 at the extremes', () => {
    const acc = SimdRingAccumulator.create(9)!;
    acc.load(Uint32Array.from([0xffffffff, 0, 1, 0x80000000, 0xffffffff, 0, 5, 0x7fffffff, 0xfffffffe]));
    acc.addWords(Uint32Array.from([1, 0xffffffff, 0xffffffff, 0x80000000, 0xffffffff, 0, 0xfffffffb, 1, 3]), 0, 1);
    expect(Array.from(acc.value)).toEqual([0, 0xffffffff, 0, 0, 0xfffffffe, 0, 0, 0x80000000, 1]);
    acc.addWords(Uint32Array.from([1, 0, 1, 1, 0xffffffff, 1, 1, 0x80000000, 2]), 0, -1);
    expect(Array.from(acc.value)).toEqual([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0, 0xffffffff]);
  });

  it('adds at offsets, from unaligned bytes, in chunks larger than the staging area', () => {
    const n = SIMD_SCRATCH_BYTES / 4 + 1234; // > one staging area, not a multiple of 4 or 16
    const acc = SimdRingAccumulator.create(n)!;
    const expected = words(n, 99);
    acc.load(expected);
    // unaligned source: a byte view at offset 1 of a larger buffer
    const w = words(n - 3, 5);
    const raw = new Uint8Array(4 * w.length + 1);
    raw.set(new Uint8Array(w.buffer), 1);
    acc.addBytes(raw.subarray(1), 3, -1);
    reference(expected, w, 3, -1);
    // small pieces at odd offsets
    for (const [off, len] of [[0, 1], [1, 2], [5, 3], [n - 7, 7], [17, 33], [1000, 4097]] as const) {
      const p = words(len, off + len);
      acc.addWords(p, off, 1);
      reference(expected, p, off, 1);
    }
    expect(firstDiff(acc.value, expected)).toBe(-1);
  });

  it('checks its arguments', () => {
    const acc = SimdRingAccumulator.create(8)!;
    expect(() => acc.addBytes(new Uint8Array(6), 0, 1)).toThrow(RangeError);
    expect(() => acc.addWords(new Uint32Array(4), 5, 1)).toThrow(RangeError);
    expect(() => acc.addWords(new Uint32Array(4), -1, 1)).toThrow(RangeError);
    expect(() => acc.addWords(new Uint32Array(4), 0, 2 as 1)).toThrow(RangeError);
    expect(() => acc.load(new Uint32Array(7))).toThrow(RangeError);
    expect(() => SimdRingAccumulator.create(0)).toThrow(RangeError);
  });
});

describe('applyMasks with and without SIMD', () => {
  const cases = [SIMD_MIN_LENGTH, SIMD_MIN_LENGTH + 3, TILE_BYTES / 4, TILE_BYTES / 4 + 1, 70_001, SIMD_SCRATCH_BYTES / 4 + 5, 3 * (SIMD_SCRATCH_BYTES / 4) - 1];
  it.each(cases)('m = %i: SIMD (fused and unfused) equals the JS loops and the expanded masks', async (m) => {
    const items = [1, -1, -1, 1, -1].map((s) => ({ seed: nodePlatform.randomBytes(32), sign: s as 1 | -1 }));
    const start = words(m, m);
    const expected = start.slice();
    for (const it of items) {
      const mask = await expandMask(nodePlatform, it.seed, m);
      if (it.sign === 1) addInto(expected, mask);
      else subInto(expected, mask);
    }
    const runs: [PlatformCrypto, boolean][] = [
      [nodePlatform, true], // SIMD, tile-major over keystream readers
      [nodePlatform, false], // JS, fused per stream
      [webPlatform, true], // SIMD, whole expanded masks
      [webPlatform, false], // JS, whole expanded masks
      [{ ...nodePlatform, aes256CtrReader: undefined }, true], // SIMD, fused per stream
      [{ ...nodePlatform, aes256CtrReader: undefined, aes256CtrEach: undefined }, true],
    ];
    for (const [platform, simd] of runs) {
      const acc = start.slice();
      await applyMasks(platform, acc, items, { simd });
      expect(firstDiff(acc, expected)).toBe(-1);
    }
  });
});

describe('keystream reader (node)', () => {
  it('yields the same bytes as aes256Ctr, for any sequence of lengths', async () => {
    const key = nodePlatform.randomBytes(32);
    const iv = nodePlatform.randomBytes(16);
    const lengths = [16, 1, 15, 32, 65_536, 3, 262_144, 262_145, 7, 0, 100_000];
    const total = lengths.reduce((a, b) => a + b, 0);
    const whole = await nodePlatform.aes256Ctr(key, iv, total);
    const r = nodePlatform.aes256CtrReader!(key, iv);
    let off = 0;
    for (const n of lengths) {
      const part = r.next(n);
      expect(part.length).toBe(n);
      expect(Buffer.compare(Buffer.from(part), Buffer.from(whole.subarray(off, off + n)))).toBe(0);
      off += n;
    }
    r.close();
    r.close(); // idempotent
    expect(() => r.next(16)).toThrow(/closed/);
    expect(() => nodePlatform.aes256CtrReader!(new Uint8Array(31), iv)).toThrow(RangeError);
    expect(() => nodePlatform.aes256CtrReader!(key, iv).next(-1)).toThrow(RangeError);
  });

  it('applyMasks with interleaved readers of many streams equals per-stream application', async () => {
    const m = 3 * (TILE_BYTES / 4) + 77;
    const items = Array.from({ length: 40 }, (_, i) => ({ seed: nodePlatform.randomBytes(32), sign: (i % 3 === 0 ? -1 : 1) as 1 | -1 }));
    const a = words(m, 3);
    const b = a.slice();
    await applyMasks(nodePlatform, a, items);
    await applyMasks(nodePlatform, b, items, { simd: false });
    expect(firstDiff(a, b)).toBe(-1);
  });

  it('leaves acc unchanged and rejects when a seed is invalid (SIMD path)', async () => {
    const m = SIMD_MIN_LENGTH + 1;
    const acc = words(m, 11);
    const before = acc.slice();
    const items = [{ seed: nodePlatform.randomBytes(32), sign: 1 as const }, { seed: new Uint8Array(5), sign: -1 as const }];
    await expect(applyMasks(nodePlatform, acc, items)).rejects.toThrow();
    expect(firstDiff(acc, before)).toBe(-1);
  });
});

describe('mask-key reconstruction check through the platform', () => {
  it('recovers the key past a corrupt share and aborts when nothing verifies, natively or not', async () => {
    const kp = nacl.box.keyPair();
    const shares = await shareSecret(kp.secretKey, 9, 6);
    shares[0]![3]! ^= 0x55; // a corrupt share among the first t
    const from = (list: Uint8Array[]) => list.map((share, i) => ({ sender: `s${i}`, share }));
    for (const platform of [nodePlatform, webPlatform, { ...nodePlatform, x25519: undefined }, undefined]) {
      expect(Array.from((await reconstructMaskKey(from(shares), 6, kp.publicKey, platform)).secret)).toEqual(Array.from(kp.secretKey));
      await expect(reconstructMaskKey(from(shares.slice(0, 6)), 6, kp.publicKey, platform)).rejects.toMatchObject({ code: 'SECAGG_ABORTED' });
      await expect(reconstructMaskKey(from(shares.slice(1, 6)), 6, kp.publicKey, platform)).rejects.toMatchObject({ code: 'SECAGG_ABORTED' });
    }
  });
});

describe('mask application shared with helper threads', () => {
  afterAll(() => stopNodeMaskHelpers());

  async function expectedSum(start: Uint32Array, items: { seed: Uint8Array; sign: 1 | -1 }[]): Promise<Uint32Array> {
    const out = start.slice();
    for (const it of items) {
      const mask = await expandMask(nodePlatform, it.seed, out.length);
      if (it.sign === 1) addInto(out, mask);
      else subInto(out, mask);
    }
    return out;
  }

  it('the node helper alone computes the exact partial sum of what it claims', async () => {
    const m = TILE_BYTES / 4 + 13;
    const items = Array.from({ length: 9 }, (_, i) => ({ seed: nodePlatform.randomBytes(32), sign: (i % 2 ? -1 : 1) as 1 | -1 }));
    const seeds = new Uint8Array(32 * items.length);
    items.forEach((it, i) => seeds.set(it.seed, 32 * i));
    const state = new Int32Array(new SharedArrayBuffer(8));
    state[0] = 2; // items 0 and 1 are someone else's
    const partials = (await nodePlatformWithMaskHelpers.maskHelpers!({ m, seeds, signs: Int8Array.from(items.map((i) => i.sign)), state, batch: 2, tileBytes: TILE_BYTES }))!;
    expect(partials).toHaveLength(1);
    expect(state[1]).toBe(1);
    expect(state[0]).toBeGreaterThanOrEqual(items.length);
    expect(firstDiff(partials[0]!, await expectedSum(new Uint32Array(m), items.slice(2)))).toBe(-1);
  });

  it('applyMasks with the worker helper equals the single-thread result (repeatedly)', async () => {
    const m = 70_001;
    const count = Math.ceil(PARALLEL_MIN_BYTES / (4 * m)) + 7;
    for (let rep = 0; rep < 3; rep++) {
      const items = Array.from({ length: count }, (_, i) => ({ seed: nodePlatform.randomBytes(32), sign: (i % 3 ? 1 : -1) as 1 | -1 }));
      const a = words(m, rep + 1);
      const b = a.slice();
      await applyMasks(nodePlatformWithMaskHelpers, a, items);
      await applyMasks(nodePlatform, b, items, { simd: false });
      expect(firstDiff(a, b)).toBe(-1);
    }
  });

  it('merges helper partial sums however the items were split (simulated helper)', async () => {
    const m = 5003;
    const count = Math.ceil(PARALLEL_MIN_BYTES / (4 * m)) + 3;
    const items = Array.from({ length: count }, (_, i) => ({ seed: nodePlatform.randomBytes(32), sign: (i % 2 ? 1 : -1) as 1 | -1 }));
    const start = words(m, 77);
    const expected = await expectedSum(start, items);
    for (const claims of [0, 1, 3, 1000]) {
      // A helper that joins and synchronously claims `claims` batches before the caller starts.
      const fake = {
        ...nodePlatform,
        maskHelpers: (job: import('../platform/types.js').MaskJob): Promise<Uint32Array[]> => {
          Atomics.add(job.state, 1, 1);
          const partial = new Uint32Array(job.m);
          const mine: { seed: Uint8Array; sign: 1 | -1 }[] = [];
          for (let c = 0; c < claims; c++) {
            const s = Atomics.add(job.state, 0, job.batch);
            for (let i = s; i < Math.min(job.signs.length, s + job.batch); i++) mine.push({ seed: job.seeds.slice(32 * i, 32 * i + 32), sign: job.signs[i] as 1 | -1 });
          }
          return applyMasks(nodePlatform, partial, mine, { simd: false }).then(() => [partial]);
        },
      };
      const acc = start.slice();
      await applyMasks(fake, acc, items);
      expect(firstDiff(acc, expected)).toBe(-1);
    }
  });
});
