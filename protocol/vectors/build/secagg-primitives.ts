/**
 * Vectors of protocol/secagg.md constructions: pairwise seed and self-seed commitment (KDF),
 * mask PRG (AES-256-CTR counter layout), neighbour graph, Shamir over GF(2^8), quantization.
 */
import { createCipheriv } from 'node:crypto';
import nacl from 'tweetnacl';
import { combine } from 'shamir-secret-sharing';
import { DpQuantizer, Quantizer, WeightedEncoder, buildNeighbourGraph, planDpQuantization, roundedL2Bound, expandMask, graphSeed, lengthPrefixed, pairwiseSeed, selfSeedCommitment, sha256 } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { hex, labelled, scriptedPlatform, shamirDraws, withNodeRandom } from '../fixed-random.js';
import { shareSecret } from '../../../packages/privacy/src/secagg/shamir.js';

const SESSION = 'fed-vectors-α:0011223344556677';

export function kdf(): Record<string, unknown> {
  const skA = labelled('flock/vectors/secagg/mask-secret/a', 32);
  const skB = labelled('flock/vectors/secagg/mask-secret/b', 32);
  const pkA = nacl.scalarMult.base(skA);
  const pkB = nacl.scalarMult.base(skB);
  const dh = nacl.scalarMult(skA, pkB);
  if (hex(dh) !== hex(nacl.scalarMult(skB, pkA))) throw new Error('X25519 is not symmetric');
  const round = 5;
  const [lo, hi] = Buffer.compare(Buffer.from(pkA), Buffer.from(pkB)) <= 0 ? [pkA, pkB] : [pkB, pkA];
  const input = lengthPrefixed('flock/secagg/v1/pairwise-mask-seed', SESSION, round, lo, hi, dh);
  const seed = pairwiseSeed(SESSION, round, pkA, pkB, dh);
  if (hex(seed) !== hex(sha256(input))) throw new Error('pairwiseSeed differs from the documented input');
  const b = labelled('flock/vectors/secagg/self-seed', 32);
  const cInput = lengthPrefixed('flock/secagg/v1/self-mask-commitment', SESSION, round, 'alice', b);
  const commitment = selfSeedCommitment(SESSION, round, 'alice', b);
  if (hex(commitment) !== hex(sha256(cInput))) throw new Error('selfSeedCommitment differs from the documented input');
  return {
    about:
      'SecAgg key derivation (protocol/secagg.md 2.3, 4.1). LP(x) = u32be(length) | bytes; strings UTF-8, integers u64be (so LP(5) = 00000008 0000000000000005), byte strings raw. s_uv = SHA-256(LP(domain) | LP(session) | LP(round) | LP(pk_lo) | LP(pk_hi) | LP(X25519(sk_u, pk_v))), pk_lo the bytewise smaller mask public key.',
    source:
      'protocol/vectors/generate.ts (build/secagg-primitives.ts): pairwiseSeed and selfSeedCommitment of @flock/privacy, X25519 by tweetnacl; both cross-checked against sha256(lengthPrefixed(...)) of the documented fields. Secrets: SHA-256(label | u32be(0)).',
    session: SESSION,
    round,
    pairwise: {
      maskSecretKeyA: hex(skA),
      maskPublicKeyA: hex(pkA),
      maskSecretKeyB: hex(skB),
      maskPublicKeyB: hex(pkB),
      x25519: hex(dh),
      pkLo: hex(lo),
      pkHi: hex(hi),
      input: hex(input),
      seed: hex(seed),
    },
    commitment: { clientId: 'alice', selfSeed: hex(b), input: hex(cInput), commitment: hex(commitment) },
  };
}

export async function prg(): Promise<Record<string, unknown>> {
  const seed = labelled('flock/vectors/secagg/prg-seed', 32);
  const m = 10;
  const words = await expandMask(nodePlatform, seed, m);
  // Independent: AES-256-ECB of the big-endian 128-bit counter blocks 0, 1, 2.
  const blocks = [0, 1, 2].map((i) => {
    const ctr = Buffer.alloc(16);
    ctr.writeUInt32BE(i, 12);
    const ecb = createCipheriv('aes-256-ecb', seed, null).setAutoPadding(false);
    return { counter: ctr.toString('hex'), keystream: Buffer.concat([ecb.update(ctr), ecb.final()]).toString('hex') };
  });
  const ks = Buffer.from(blocks.map((b) => b.keystream).join(''), 'hex');
  for (let i = 0; i < m; i++) if (ks.readUInt32LE(4 * i) !== words[i]) throw new Error(`PRG word ${i} differs from AES-256-ECB of the counter block`);
  // Far into the stream: words 2^20 .. 2^20 + 3 come from counter block 2^18.
  const far = await expandMask(nodePlatform, seed, 2 ** 20 + 4);
  return {
    about:
      'Mask PRG (protocol/secagg.md 4.2): PRG(seed, m) = the first 4m bytes of AES-256-CTR with key = seed (32 bytes) and the whole 16-byte block as a big-endian counter starting at 0 (block i = AES-256(seed, u128be(i))), read as m little-endian uint32 words. Word j comes from block floor(j / 4), bytes 4(j mod 4) .. +3.',
    source:
      'protocol/vectors/generate.ts (build/secagg-primitives.ts): expandMask of @flock/privacy (node:crypto aes-256-ctr), cross-checked against node:crypto aes-256-ecb of the counter blocks. Seed: SHA-256("flock/vectors/secagg/prg-seed" | u32be(0)).',
    seed: hex(seed),
    m,
    blocks,
    words: Array.from(words),
    far: { firstWord: 2 ** 20, counter: '00000000000000000000000000040000', words: Array.from(far.subarray(2 ** 20)) },
  };
}

/** The neighbour graph's public permutation, computed independently of graph.ts (Fisher-Yates over SHA-256(LP(seed) | LP(counter)) blocks). */
function permutation(n: number, seed: Uint8Array): number[] {
  let block: Uint8Array = new Uint8Array(0);
  let pos = 0;
  let counter = 0;
  const byte = (): number => {
    if (pos >= block.length) {
      block = sha256(lengthPrefixed(seed, counter++));
      pos = 0;
    }
    return block[pos++]!;
  };
  const below = (bound: number): number => {
    const limit = Math.floor(2 ** 32 / bound) * bound;
    for (;;) {
      const w = ((byte() << 24) | (byte() << 16) | (byte() << 8) | byte()) >>> 0;
      if (w < limit) return w % bound;
    }
  };
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = below(i + 1);
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  return perm;
}

export function graph(): Record<string, unknown> {
  const ids = ['zed', 'amy', 'Bob', 'carol', 'dave', 'eve', 'frank'];
  const cases = [
    { k: 6, ids: ids.slice(0, 5) },
    { k: 2, ids },
    { k: 3, ids },
    { k: 4, ids: [...ids, 'gina'] },
  ].map(({ k, ids }) => {
    const sorted = [...ids].sort();
    const seed = graphSeed(SESSION, 5, sorted);
    const g = buildNeighbourGraph(ids, k, seed);
    const perm = g.full ? undefined : permutation(sorted.length, seed);
    if (perm) {
      // Rebuild the circulant from the independent permutation and compare.
      const n = sorted.length;
      const sets = sorted.map(() => new Set<number>());
      for (let p = 0; p < n; p++) {
        const link = (q: number): void => {
          sets[perm[p]!]!.add(perm[q]!);
          sets[perm[q]!]!.add(perm[p]!);
        };
        for (let d = 1; d <= Math.floor(g.degree / 2); d++) link((p + d) % n);
        if (g.degree % 2 === 1) link((p + n / 2) % n);
      }
      sorted.forEach((id, i) => {
        const mine = [...sets[i]!].sort((a, b) => a - b).map((j) => sorted[j]);
        if (JSON.stringify(mine) !== JSON.stringify(g.neighbours.get(id))) throw new Error(`graph of ${id} differs from the independent circulant`);
      });
    }
    return {
      k,
      ids,
      sortedIds: sorted,
      seedInput: hex(lengthPrefixed('flock/secagg/v1/neighbour-graph', SESSION, 5, ...sorted)),
      seed: hex(seed),
      full: g.full,
      degree: g.degree,
      ...(perm ? { permutation: perm } : {}),
      neighbours: Object.fromEntries(sorted.map((id) => [id, g.neighbours.get(id)])),
    };
  });
  return {
    about:
      'Neighbour graph (protocol/secagg.md 2.2) over the sorted roster ids (UTF-16 code unit order: "Bob" < "amy"). Full graph when n <= degree + 1; otherwise positions p = 0..n-1 of a circulant, each linked to p +- 1..floor(degree/2) (mod n) and, for odd degree, to p + n/2; permutation[p] is the index (in sorted order) of the client at position p.',
    source:
      'protocol/vectors/generate.ts (build/secagg-primitives.ts): graphSeed and buildNeighbourGraph of @flock/privacy; every circulant cross-checked against a circulant rebuilt from an independent Fisher-Yates implementation (the permutation listed).',
    session: SESSION,
    round: 5,
    cases,
  };
}

/** GF(2^8) product, polynomial x^8 + x^4 + x^3 + x + 1 (0x11b), by shift-and-add. */
function gfMul(a: number, b: number): number {
  let p = 0;
  for (let i = 0; i < 8; i++) {
    if (b & 1) p ^= a;
    const hi = a & 0x80;
    a = (a << 1) & 0xff;
    if (hi) a ^= 0x1b;
    b >>= 1;
  }
  return p;
}

function coordinates(r: Uint8Array): number[] {
  const c = Array.from({ length: 255 }, (_, i) => i + 1);
  for (let i = 0; i < 255; i++) {
    const j = r[i]! % 255;
    [c[i], c[j]] = [c[j]!, c[i]!];
  }
  return c;
}

export async function shamir(): Promise<Record<string, unknown>> {
  const cases = [];
  for (const { name, secret, k, t } of [
    { name: 'one byte', secret: Uint8Array.of(0x2a), k: 3, t: 2 },
    { name: 'a 32-byte secret, 3 of 5', secret: labelled('flock/vectors/shamir/secret', 32), k: 5, t: 3 },
  ]) {
    const coordinateBytes = labelled(`flock/vectors/shamir/${name}/coordinates`, 255);
    const coefficientBytes = labelled(`flock/vectors/shamir/${name}/coefficients`, secret.length * (t - 1));
    const shares = await withNodeRandom(shamirDraws(coordinateBytes, coefficientBytes, secret.length, t), () => shareSecret(secret, k, t));
    // Independent evaluation: y = sum_i a_i x^i over GF(2^8), a_0 = the secret byte.
    const xs = coordinates(coordinateBytes).slice(0, k);
    shares.forEach((s, j) => {
      if (s[secret.length] !== xs[j]) throw new Error(`share ${j}: x-coordinate differs`);
      for (let b = 0; b < secret.length; b++) {
        const coef = [secret[b]!, ...coefficientBytes.subarray(b * (t - 1), (b + 1) * (t - 1))];
        let y = 0;
        let pow = 1;
        for (const a of coef) {
          y ^= gfMul(a, pow);
          pow = gfMul(pow, xs[j]!);
        }
        if (y !== s[b]) throw new Error(`share ${j} byte ${b} differs from the independent evaluation`);
      }
    });
    const subsets = [Array.from({ length: t }, (_, i) => i), Array.from({ length: t }, (_, i) => k - 1 - i)];
    for (const sub of subsets) if (hex(await combine(sub.map((i) => shares[i]!))) !== hex(secret)) throw new Error('combine does not give the secret back');
    cases.push({ name, secret: hex(secret), k, t, coordinateBytes: hex(coordinateBytes), coefficientBytes: hex(coefficientBytes), xCoordinates: xs, shares: shares.map(hex), combine: subsets });
  }
  return {
    about:
      'Shamir secret sharing over GF(2^8) (protocol/secagg.md 3.2): field polynomial x^8 + x^4 + x^3 + x + 1 (0x11b, the AES field); each secret byte is the constant term of its own polynomial of degree t - 1; a share is the evaluations f_b(x) at one non-zero x, one byte per secret byte b, followed by x itself (33 bytes for a 32-byte secret). Reference dealer: x-coordinates from 255 random bytes r: c = [1..255], for i in 0..254 swap(c[i], c[r[i] mod 255]), share j gets c[j]; then for each secret byte b (in order) t - 1 random bytes are the coefficients of x^1 .. x^(t-1). Any t shares combine by Lagrange interpolation at x = 0.',
    source:
      'protocol/vectors/generate.ts (build/secagg-primitives.ts): shareSecret of @flock/privacy (the audited shamir-secret-sharing 0.0.4 split) with node:crypto randomBytes scripted to coordinateBytes, then t - 1 bytes of coefficientBytes per secret byte; every share cross-checked against an independent shift-and-add GF(2^8) evaluation, and the subsets in `combine` against the library combine.',
    gfMul: [
      { a: 0x57, b: 0x83, product: gfMul(0x57, 0x83) },
      { a: 0x57, b: 0x13, product: gfMul(0x57, 0x13) },
      { a: 0x53, b: 0xca, product: gfMul(0x53, 0xca) },
    ],
    cases,
  };
}

export async function quantize(): Promise<Record<string, unknown>> {
  const q = new Quantizer({ clip: 1, nMax: 100 });
  const x = [0, 0.5, -0.5, 1, -1, 2.5, -3, 1e-9, -1e-9, 0.123456789, -0.987654321, 0.75];
  const uniforms = Uint32Array.from([0, 4294967295, 2147483648, 2147483647, 1, 3000000000, 7, 4294967295, 0, 123456789, 987654321, 2 ** 31]);
  const plain = q.encodeWith(x, uniforms);
  // Independent float64 computation of the documented rule.
  x.forEach((v, i) => {
    const y = Math.max(-1, Math.min(1, v)) * q.scale;
    const f = Math.floor(y);
    const qi = uniforms[i]! < (y - f) * 2 ** 32 ? f + 1 : f;
    if ((qi >>> 0) !== plain[i]) throw new Error(`quantized element ${i} differs`);
  });
  const clip = 0.5;
  const nMax = 3;
  const weightCap = 100;
  const clients = [
    { delta: [0.25, -0.5, 0.75, -1e-3, 0], weight: 600 },
    { delta: [-0.25, 0.125, 0.3, 1e-3, -2], weight: 7 },
  ];
  const encoded = [];
  const sum = new Uint32Array(clients[0]!.delta.length + 1);
  for (const [i, c] of clients.entries()) {
    const key = labelled(`flock/vectors/quantize/uniform-key/${i}`, 32);
    const enc = new WeightedEncoder({ clip, nMax, weightCap, platform: scriptedPlatform([key]) });
    const out = await enc.encode(c.delta, c.weight);
    const ks = await nodePlatform.aes256Ctr(key, new Uint8Array(16), 4 * c.delta.length);
    const u = Array.from({ length: c.delta.length }, (_, j) => Buffer.from(ks).readUInt32LE(4 * j));
    for (let j = 0; j < sum.length; j++) sum[j] = (sum[j]! + out[j]!) >>> 0;
    encoded.push({ ...c, uniformKey: hex(key), uniforms: u, cappedWeight: Math.min(c.weight, weightCap), encoded: Array.from(out), encodedBytes: hex(new Uint8Array(out.buffer)) });
  }
  const decoder = new WeightedEncoder({ clip, nMax, weightCap });
  const d = decoder.decode(sum);
  const dp = await dpQuantize();
  return {
    dp,
    about:
      'Quantization (protocol/secagg.md 4.4). Quantizer(clip c, nMax): scale = 2^31 / (nMax * 2c); y = clamp(x, -c, c) * scale (float64); q = floor(y) + 1 if u < (y - floor(y)) * 2^32 else floor(y), u a uniform uint32; the wire word is q mod 2^32 (two\'s complement). Decode: read the ring sum as int32, divide by scale. WeightedEncoder(clip, nMax, weightCap): w = min(numExamples, weightCap); element i = Quantizer(clip * weightCap, nMax) of clamp(delta_i, -clip, clip) * w, with u_i the i-th little-endian uint32 of AES-256-CTR(key = 32 random bytes, counter 0); one more element, w itself. The server divides the decoded weighted sum by the summed weight (the last element).',
    source:
      'protocol/vectors/generate.ts (build/secagg-primitives.ts): Quantizer.encodeWith (fixed uniforms) and WeightedEncoder.encode / decode of @flock/privacy, the uniform key drawn from a scripted platform; encodeWith cross-checked against an independent float64 computation of the rule. Uniform keys: SHA-256("flock/vectors/quantize/uniform-key/<i>" | u32be(0)).',
    quantizer: { clip: 1, nMax: 100, scale: q.scale, x, uniforms: Array.from(uniforms), encoded: Array.from(plain), decoded: Array.from(q.decode(plain)) },
    weighted: {
      clip,
      nMax,
      weightCap,
      scale: decoder.quantizer.scale,
      clients: encoded,
      ringSum: Array.from(sum),
      totalWeight: d.totalWeight,
      weightedSum: Array.from(d.weightedSum),
      mean: Array.from(d.mean),
    },
  };
}

/** The DP encoding of protocol/secagg.md 4.5: the coordinator's plan, rounding attempts with fixed uniforms, encode with fixed keys. */
async function dpQuantize(): Promise<Record<string, unknown>> {
  const clip = 0.5;
  const dimension = 6;
  const planParams = { clip, dimension, cohort: 4, minSurvivors: 3, noiseMultiplier: 1, distributed: true };
  const plan = planDpQuantization(planParams);
  // Independent float64 computation of the documented scale rule and bound.
  const k = Math.sqrt(2 * Math.log((2 * dimension) / 1e-9));
  const g = k * 1 * Math.sqrt(4 / 3);
  const c = Math.min((2 ** 31 - 1 - 4 - g * Math.sqrt(dimension)) / (4 + g), (2 ** 28 * Math.sqrt(3)) / 1 - Math.sqrt(dimension));
  if (c / clip !== plan.scale) throw new Error('dp scale differs from the documented rule');
  const bound = Math.min(c + Math.sqrt(dimension), Math.sqrt(c * c + dimension / 4 + Math.sqrt(2 * Math.log(1 / Math.exp(-0.5))) * (c + Math.sqrt(dimension) / 2)));
  if (bound !== plan.bound || roundedL2Bound(c, dimension) !== bound) throw new Error('dp bound differs from the documented rule');
  const q = new DpQuantizer({ clip, scale: plan.scale, dimension });
  // An update above the clip (clipped to it): rounding every coordinate away from zero exceeds Delta2 and is
  // rejected; rounding every coordinate towards zero never does.
  const delta = [0.6, -0.4, 0.5, -0.2, 0.3, 0.2];
  const y = q.latticeVector(delta);
  const up = Uint32Array.from(delta, (v) => (v >= 0 ? 0 : 4294967295));
  const towardZero = Uint32Array.from(delta, (v) => (v >= 0 ? 4294967295 : 0));
  const rejected = q.roundWith(y, up);
  const accepted = q.roundWith(y, towardZero);
  if (rejected !== undefined || accepted === undefined) throw new Error('the dp rounding examples do not reject / accept as documented');
  const keys = [0, 1].map((i) => labelled(`flock/vectors/quantize/dp-key/${i}`, 32));
  const scripted = scriptedPlatform(keys);
  const enc = await new DpQuantizer({ clip, scale: plan.scale, dimension, platform: scripted }).encode(delta);
  return {
    about:
      'DP encoding (protocol/secagg.md 4.5): plan = the coordinator\'s choice of scale and Delta2 for (clip, dimension, cohort n, threshold t, sigma, distributed); latticeVector = y (the clipped delta times f); a rounding attempt with explicit uniforms (roundUpAway: every coordinate away from zero, rejected: norm > Delta2; towardZero: every coordinate towards zero, accepted); encode with the scripted keys (attempt j uses keys[j]).',
    plan: { ...planParams, overflowProbability: 1e-9, beta: Math.exp(-0.5), scale: plan.scale, bound: plan.bound, clientStddev: plan.clientStddev },
    delta,
    latticeVector: Array.from(y),
    roundUpAway: { uniforms: Array.from(up), accepted: false },
    towardZero: { uniforms: Array.from(towardZero), accepted: true, encoded: Array.from(accepted) },
    encode: { keys: keys.map(hex), attempts: 2 - scripted.left, encoded: Array.from(enc), decoded: Array.from(q.decode(enc)) },
  };
}
