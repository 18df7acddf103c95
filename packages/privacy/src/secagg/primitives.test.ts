import { readFileSync } from 'node:fs';
import nacl from 'tweetnacl';
import { combine } from 'shamir-secret-sharing';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../crypto/bytes.js';
import { nodePlatform } from '../platform/node.js';
import { webPlatform } from '../platform/web.js';
import { SecAggError } from './errors.js';
import { buildNeighbourGraph, graphSeed, sortIds } from './graph.js';
import { agreePairwiseSeed, pairwiseSeed, selfSeedCommitment } from './kdf.js';
import { applyMasks, expandMask } from './prg.js';
import { Quantizer, WeightedEncoder } from './quantize.js';
import { addInto, bytesLEToU32, subInto, u32ToBytesLE } from './ring.js';
import { combineSharesFast, defaultThreshold, reconstructMaskKey, reconstructSelfSeed, shareSecret } from './shamir.js';
import { secAggParameters } from './params.js';

const vec = (name: string): any => JSON.parse(readFileSync(new URL(`../../../../test/vectors/${name}`, import.meta.url), 'utf8'));

describe('key derivation', () => {
  const v = vec('secagg-kdf.json');
  it('matches the regression vectors (both argument orders)', async () => {
    for (const c of v.cases) {
      const pkA = fromHex(c.publicKeyA);
      const pkB = fromHex(c.publicKeyB);
      expect(toHex(nacl.scalarMult(fromHex(c.secretKeyA), pkB))).toBe(c.dh);
      expect(toHex(pairwiseSeed(c.session, c.round, pkA, pkB, fromHex(c.dh)))).toBe(c.seed);
      expect(toHex(pairwiseSeed(c.session, c.round, pkB, pkA, fromHex(c.dh)))).toBe(c.seed);
      // both ends agree, native or tweetnacl
      const a = await agreePairwiseSeed(nodePlatform, c.session, c.round, fromHex(c.secretKeyA), pkA, pkB);
      const b = await agreePairwiseSeed(webPlatform, c.session, c.round, fromHex(c.secretKeyB), pkB, pkA);
      const plain = await agreePairwiseSeed({ ...nodePlatform, x25519: undefined }, c.session, c.round, fromHex(c.secretKeyB), pkB, pkA);
      expect(toHex(a)).toBe(c.seed);
      expect(toHex(b)).toBe(c.seed);
      expect(toHex(plain)).toBe(c.seed);
    }
    const cm = v.commitment;
    expect(toHex(selfSeedCommitment(cm.session, cm.round, cm.clientId, fromHex(cm.seed)))).toBe(cm.commitment);
  });
  it('binds session and round', () => {
    const c = v.cases[0];
    const args = [fromHex(c.publicKeyA), fromHex(c.publicKeyB), fromHex(c.dh)] as const;
    expect(toHex(pairwiseSeed(c.session, c.round + 1, ...args))).not.toBe(c.seed);
    expect(toHex(pairwiseSeed(c.session + 'x', c.round, ...args))).not.toBe(c.seed);
  });
  it('rejects an all-zero DH output (low-order public key)', async () => {
    const kp = nacl.box.keyPair();
    expect(() => pairwiseSeed('s', 1, kp.publicKey, kp.publicKey, new Uint8Array(32))).toThrow(SecAggError);
    for (const p of [nodePlatform, webPlatform]) {
      await expect(agreePairwiseSeed(p, 's', 1, kp.secretKey, kp.publicKey, new Uint8Array(32))).rejects.toMatchObject({ code: 'SECAGG_ZERO_DH' });
    }
  });
  it('checks input types', () => {
    expect(() => pairwiseSeed(1 as unknown as string, 1, new Uint8Array(32), new Uint8Array(32), new Uint8Array(32))).toThrow(TypeError);
    expect(() => pairwiseSeed('s', -1, new Uint8Array(32), new Uint8Array(32), new Uint8Array(32))).toThrow(RangeError);
    expect(() => pairwiseSeed('s', 1, new Uint8Array(31), new Uint8Array(32), new Uint8Array(32))).toThrow(/pkA/);
  });
});

describe('mask PRG and ring', () => {
  it('expands to little-endian uint32 words of the AES-256-CTR keystream', async () => {
    const seed = nodePlatform.randomBytes(32);
    const mask = await expandMask(nodePlatform, seed, 8);
    const ks = await nodePlatform.aes256Ctr(seed, new Uint8Array(16), 32);
    const dv = new DataView(ks.buffer, ks.byteOffset);
    for (let i = 0; i < 8; i++) expect(mask[i]).toBe(dv.getUint32(4 * i, true));
    expect(await expandMask(webPlatform, seed, 8)).toEqual(mask);
  });
  it('fused and unfused mask application agree', async () => {
    const m = 70_001;
    const items = [1, -1, 1].map((s) => ({ seed: nodePlatform.randomBytes(32), sign: s as 1 | -1 }));
    const a = new Uint32Array(m).fill(5);
    const b = new Uint32Array(m).fill(5);
    await applyMasks(nodePlatform, a, items);
    await applyMasks(webPlatform, b, items);
    expect(a).toEqual(b);
  });
  it('adds and subtracts mod 2^32 in place', () => {
    const a = Uint32Array.from([0xffffffff, 1, 0]);
    addInto(a, Uint32Array.from([2, 0xffffffff, 7]));
    expect(Array.from(a)).toEqual([1, 0, 7]);
    subInto(a, Uint32Array.from([2, 1, 7]));
    expect(Array.from(a)).toEqual([0xffffffff, 0xffffffff, 0]);
    expect(() => addInto(a, new Uint32Array(2))).toThrow(RangeError);
    expect(() => addInto(a, [1, 2, 3] as unknown as Uint32Array)).toThrow(TypeError);
    expect(bytesLEToU32(u32ToBytesLE(a))).toEqual(a);
    expect(Array.from(u32ToBytesLE(Uint32Array.from([0x01020304])))).toEqual([4, 3, 2, 1]);
  });
});

describe('quantization', () => {
  const v = vec('secagg-quantize.json');
  it('matches the regression vectors', () => {
    const q = new Quantizer({ clip: v.clip, nMax: v.nMax });
    expect(q.scale).toBe(v.scale);
    expect(Array.from(q.encodeWith(v.x, Uint32Array.from(v.uniforms)))).toEqual(v.encoded);
    expect(Array.from(q.decode(Uint32Array.from(v.encoded)))).toEqual(v.decoded);
  });
  it('is unbiased within 3 sigma over 1e5 draws', async () => {
    const q = new Quantizer({ clip: 1, nMax: 2 ** 20, platform: nodePlatform }); // coarse scale (1024) makes rounding visible
    const n = 100_000;
    for (const x of [0.3, -0.77, 1e-4]) {
      const enc = await q.encode(new Float64Array(n).fill(x));
      const dec = q.decode(enc);
      let s = 0;
      for (const d of dec) s += d;
      const mean = s / n;
      const y = x * q.scale;
      const p = y - Math.floor(y);
      const sigma = Math.sqrt(p * (1 - p) / n) / q.scale; // Bernoulli rounding noise of the mean
      expect(Math.abs(mean - x)).toBeLessThanOrEqual(3 * sigma + 1e-12);
    }
  });
  it('sums of up to nMax encodings decode without overflow, at the clipping extremes', async () => {
    const nMax = 1000;
    const q = new Quantizer({ clip: 2, nMax, platform: nodePlatform });
    for (const x of [2, -2, 5, -5]) {
      const enc = await q.encode([x]);
      const acc = new Uint32Array(1);
      for (let i = 0; i < nMax; i++) addInto(acc, enc);
      const expected = Math.sign(x) * 2 * nMax;
      expect(Math.abs(q.decode(acc)[0]! - expected)).toBeLessThan(nMax / q.scale + 1e-9);
    }
  });
  it('refuses a cohort larger than nMax with a typed error', () => {
    const q = new Quantizer({ clip: 1, nMax: 10 });
    expect(() => q.assertCohort(10)).not.toThrow();
    expect(() => q.assertCohort(11)).toThrow(SecAggError);
    try {
      q.assertCohort(11);
    } catch (e) {
      expect((e as SecAggError).code).toBe('SECAGG_COHORT_TOO_LARGE');
    }
  });
  it('checks its inputs', async () => {
    expect(() => new Quantizer({ clip: 0, nMax: 1 })).toThrow(RangeError);
    expect(() => new Quantizer({ clip: 1, nMax: 1.5 })).toThrow(TypeError);
    const q = new Quantizer({ clip: 1, nMax: 4 });
    await expect(q.encode([0, NaN])).rejects.toThrow(/x\[1\]/);
    await expect(q.encode('abc' as unknown as number[])).rejects.toThrow(TypeError);
    expect(() => q.encodeWith([1, 2], new Uint32Array(1))).toThrow(RangeError);
  });
  it('weighted FedAvg: pre-multiplied deltas plus the weight decode to the weighted mean', async () => {
    const enc = new WeightedEncoder({ clip: 1, nMax: 100, weightCap: 500, platform: nodePlatform });
    const deltas = [
      [0.1, -0.2, 0.9],
      [0.3, 0.4, 2.0], // 2.0 is clipped to 1
      [-0.5, 0.0, 0.2],
    ];
    const weights = [10, 1000, 50]; // 1000 is capped to 500
    const acc = new Uint32Array(4);
    for (let i = 0; i < 3; i++) addInto(acc, await enc.encode(deltas[i]!, weights[i]!));
    const r = enc.decode(acc);
    expect(r.totalWeight).toBe(560);
    const capped = [10, 500, 50];
    const clipped = deltas.map((d) => d.map((x) => Math.max(-1, Math.min(1, x))));
    for (let j = 0; j < 3; j++) {
      const exact = clipped.reduce((s, d, i) => s + d[j]! * capped[i]!, 0) / 560;
      expect(Math.abs(r.mean[j]! - exact)).toBeLessThan(3 / enc.quantizer.scale);
    }
    await expect(enc.encode([0.1], 1.5)).rejects.toThrow(TypeError);
    await expect(enc.encode([0.1], -1)).rejects.toThrow(RangeError);
    expect(() => new WeightedEncoder({ clip: 1, nMax: 2 ** 20, weightCap: 2 ** 12 })).toThrow(RangeError);
  });
});

describe('Shamir sharing', () => {
  it('fast combine equals the library combine', async () => {
    for (const [k, t] of [[2, 2], [9, 7], [99, 66], [255, 171]] as const) {
      const secret = nodePlatform.randomBytes(32);
      const shares = await shareSecret(secret, k, t);
      const subset = shares.slice(k - t);
      expect(combineSharesFast(subset)).toEqual(await combine(subset));
      expect(combineSharesFast(subset)).toEqual(secret);
    }
  });
  it('reconstruction checks the public key and the commitment, and skips a corrupt share', async () => {
    const kp = nacl.box.keyPair();
    const shares = await shareSecret(kp.secretKey, 9, 6);
    shares[0]![3]! ^= 0x55; // a corrupt share among the first t
    const from = (list: Uint8Array[]) => list.map((share, i) => ({ sender: `s${i}`, share }));
    expect(await reconstructMaskKey(from(shares), 6, kp.publicKey)).toEqual({ secret: kp.secretKey, inconsistent: ['s0'] });
    await expect(reconstructMaskKey(from(shares.slice(0, 6)), 6, kp.publicKey)).rejects.toMatchObject({ code: 'SECAGG_ABORTED' });
    await expect(reconstructMaskKey(from(shares.slice(1, 6)), 6, kp.publicKey)).rejects.toMatchObject({ code: 'SECAGG_ABORTED' });
    const seed = nodePlatform.randomBytes(32);
    const ctx = { session: 's', round: 2, clientId: 'c' };
    const commitment = selfSeedCommitment('s', 2, 'c', seed);
    const seedShares = await shareSecret(seed, 5, 3);
    expect((await reconstructSelfSeed(from(seedShares.slice(2)), 3, commitment, ctx)).secret).toEqual(seed);
    await expect(reconstructSelfSeed(from(seedShares.slice(2)), 3, commitment, { ...ctx, round: 3 })).rejects.toMatchObject({ code: 'SECAGG_ABORTED' });
  });
  it('thresholds: ceil(2k/3), never below floor(k/2)+1', async () => {
    expect(defaultThreshold(9)).toBe(6);
    expect(defaultThreshold(16)).toBe(11);
    expect(defaultThreshold(3)).toBe(2);
    expect(defaultThreshold(2)).toBe(2);
    for (let k = 2; k <= 255; k++) expect(defaultThreshold(k)).toBeGreaterThanOrEqual(Math.floor(k / 2) + 1);
    expect(() => secAggParameters({ cohortSize: 10, k: 9, t: 4 })).toThrow(RangeError);
    await expect(shareSecret(new Uint8Array(32), 9, 10)).rejects.toThrow(RangeError);
  });
});

describe('neighbour graph', () => {
  const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `c${i}`);
  it('is the full graph when n <= k + 1', () => {
    const g = buildNeighbourGraph(ids(10), 9, new Uint8Array(32));
    expect(g.full).toBe(true);
    expect(g.degree).toBe(9);
    for (const [id, nb] of g.neighbours) expect(nb).toEqual(sortIds(ids(10)).filter((x) => x !== id));
  });
  it('is k-regular, symmetric and deterministic from the public seed', () => {
    for (const [n, k] of [[50, 16], [100, 11], [101, 11], [13, 4]] as const) {
      const all = ids(n);
      const seed = graphSeed('s', 1, sortIds(all));
      const g = buildNeighbourGraph(all, k, seed);
      const expectedDegree = (n * k) % 2 === 1 ? k + 1 : k;
      expect(g.degree).toBe(expectedDegree);
      for (const [id, nb] of g.neighbours) {
        expect(nb.length).toBe(expectedDegree);
        expect(nb).not.toContain(id);
        for (const v of nb) expect(g.neighbours.get(v)).toContain(id);
      }
      const again = buildNeighbourGraph([...all].reverse(), k, seed);
      expect([...again.neighbours]).toEqual([...g.neighbours]);
      const other = buildNeighbourGraph(all, k, graphSeed('s', 2, sortIds(all)));
      expect([...other.neighbours]).not.toEqual([...g.neighbours]);
    }
  });
  it('refuses duplicate ids', () => {
    expect(() => buildNeighbourGraph(['a', 'a', 'b'], 2, new Uint8Array(32))).toThrow(RangeError);
  });
});
