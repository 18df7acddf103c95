import { describe, expect, it } from 'vitest';
import { nodePlatform } from '../platform/node.js';
import { generateIdentityKeyPair } from '../crypto/sign.js';
import { SecAggError } from './errors.js';
import { buildNeighbourGraph, graphSeed, sortIds } from './graph.js';
import { simulateSecAggRound } from './simulate.js';
import { secAggParameters } from './params.js';
import { addInto } from './ring.js';

const platform = nodePlatform;

function ids(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `client-${String(i).padStart(3, '0')}`);
}

/** Deterministic test inputs: structured values (not random) so leaks would be visible. */
function inputOf(id: string, m: number): Uint32Array {
  const i = Number(id.slice(-3));
  const v = new Uint32Array(m);
  for (let j = 0; j < m; j++) v[j] = (i * 1000 + j) * 7 - 3000; // includes negatives (two's complement)
  return v;
}

function plainSum(survivors: string[], m: number): Uint32Array {
  const acc = new Uint32Array(m);
  for (const id of survivors) addInto(acc, inputOf(id, m));
  return acc;
}

type Stage = 'shareKeys' | 'maskedInput' | 'unmask';

async function run(n: number, k: number, t: number, m: number, stage: Stage | undefined, dropped: string[]) {
  return simulateSecAggRound({
    session: 'test-session',
    round: 3,
    ids: ids(n),
    k,
    t,
    vectorLength: m,
    platform,
    input: (id) => inputOf(id, m),
    drop: stage ? { [stage]: dropped } : {},
  });
}

/** The survivors whose inputs are in the sum: everyone who sent a masked input. */
function expectedSurvivors(n: number, stage: Stage | undefined, dropped: string[]): string[] {
  if (stage === 'unmask' || stage === undefined) return ids(n);
  return ids(n).filter((id) => !dropped.includes(id));
}

/** Neighbours of `centre` in the graph the round will build over the full roster. */
function neighbourhood(n: number, k: number, centre: string): string[] {
  const all = sortIds(ids(n));
  return [...buildNeighbourGraph(all, k, graphSeed('test-session', 3, all)).neighbours.get(centre)!];
}

describe('SecAgg+ engine exactness, n = 10 (full graph, k = 9, t = 7)', () => {
  const n = 10;
  // k = 9 and t = 7 chosen explicitly (the derived parameters for n = 10 are k = 4, t = 3).
  const { k, t, tolerance } = secAggParameters({ cohortSize: n, k: 9, t: 7 });
  const m = 257;
  it('has the expected parameters', () => {
    expect([k, t, tolerance]).toEqual([9, 7, 2]);
    expect(secAggParameters({ cohortSize: n })).toMatchObject({ k: 4, t: 3, full: false });
    // with k = 9 fixed, t is the smallest secure threshold: a strict majority of 9
    expect(secAggParameters({ cohortSize: n, k: 9 }).t).toBe(5);
  });
  it('no dropout: the aggregate is the plain ring sum, bit for bit', async () => {
    const r = await run(n, k, t, m, undefined, []);
    expect(r.sum).toEqual(plainSum(ids(n), m));
  });
  for (const stage of ['shareKeys', 'maskedInput', 'unmask'] as const) {
    it(`${tolerance} dropouts before ${stage}: exact`, async () => {
      const dropped = ids(n).slice(2, 2 + tolerance);
      const r = await run(n, k, t, m, stage, dropped);
      expect(r.sum).toEqual(plainSum(expectedSurvivors(n, stage, dropped), m));
    });
    it(`${tolerance + 1} dropouts before ${stage}: aborts with SECAGG_ABORTED`, async () => {
      const dropped = ids(n).slice(2, 3 + tolerance);
      await expect(run(n, k, t, m, stage, dropped)).rejects.toMatchObject({ name: 'SecAggError', code: 'SECAGG_ABORTED' });
    });
  }
  it('dropouts before advertising shrink the roster; below t + 1 clients it aborts', async () => {
    const ok = await simulateSecAggRound({
      session: 'test-session', round: 3, ids: ids(n), k, t, vectorLength: m, platform,
      input: (id) => inputOf(id, m), drop: { advertiseKeys: ids(n).slice(0, 2) },
    });
    expect(ok.sum).toEqual(plainSum(ids(n).slice(2), m));
    await expect(
      simulateSecAggRound({
        session: 'test-session', round: 3, ids: ids(n), k, t, vectorLength: m, platform,
        input: (id) => inputOf(id, m), drop: { advertiseKeys: ids(n).slice(0, 3) },
      }),
    ).rejects.toMatchObject({ code: 'SECAGG_ABORTED' });
  });
  it('dropouts spread over all stages up to the tolerance: exact', async () => {
    const all = ids(n);
    const r = await simulateSecAggRound({
      session: 'test-session', round: 3, ids: all, k, t, vectorLength: m, platform,
      input: (id) => inputOf(id, m), drop: { shareKeys: [all[1]!], maskedInput: [all[5]!] },
    });
    expect(r.sum).toEqual(plainSum(all.filter((id) => id !== all[1] && id !== all[5]), m));
  });
});

describe('SecAgg+ engine exactness, n = 50 (k = 16)', () => {
  const n = 50;
  const { k, t, tolerance, full } = secAggParameters({ cohortSize: n, k: 16 });
  const m = 64;
  it('has the expected parameters', () => {
    expect([k, t, tolerance, full]).toEqual([16, 10, 6, false]); // t derived for k = 16 (params.ts)
  });
  it('no dropout: exact', async () => {
    const r = await run(n, k, t, m, undefined, []);
    expect(r.sum).toEqual(plainSum(ids(n), m));
  });
  for (const stage of ['shareKeys', 'maskedInput', 'unmask'] as const) {
    it(`${tolerance} dropouts in one neighbourhood before ${stage}: exact`, async () => {
      const dropped = neighbourhood(n, k, ids(n)[7]!).slice(0, tolerance);
      const r = await run(n, k, t, m, stage, dropped);
      expect(r.sum).toEqual(plainSum(expectedSurvivors(n, stage, dropped), m));
    });
    it(`${tolerance + 1} dropouts in one neighbourhood before ${stage}: aborts`, async () => {
      const dropped = neighbourhood(n, k, ids(n)[7]!).slice(0, tolerance + 1);
      await expect(run(n, k, t, m, stage, dropped)).rejects.toMatchObject({ code: 'SECAGG_ABORTED' });
    });
  }
  it('many dropouts spread over different neighbourhoods before masking: still exact', async () => {
    // 10% dropped: a random-looking spread rarely puts more than 5 into one neighbourhood.
    const all = ids(n);
    const dropped = [all[3]!, all[17]!, all[29]!, all[41]!, all[46]!];
    const r = await run(n, k, t, m, 'maskedInput', dropped);
    expect(r.sum).toEqual(plainSum(all.filter((id) => !dropped.includes(id)), m));
  });
});

describe('SecAgg+ server bookkeeping', () => {
  it('reports the dropouts of each stage', async () => {
    const all = ids(10);
    const r = await simulateSecAggRound({
      session: 's', round: 1, ids: all, k: 9, t: 6, vectorLength: 8, platform, input: () => new Uint32Array(8),
      drop: { advertiseKeys: [all[0]!], shareKeys: [all[4]!], unmask: [all[9]!] },
    });
    expect(r.status.dropped).toEqual({ advertiseKeys: [all[0]], shareKeys: [all[4]], maskedInput: [], unmask: [all[9]] });
    expect(r.status.stage).toBe('done');
  });
  it('uploads about 4m bytes plus O(k)', async () => {
    const m = 1000;
    const r = await simulateSecAggRound({ session: 's', round: 1, ids: ids(10), k: 9, t: 7, vectorLength: m, platform, input: () => new Uint32Array(m) });
    for (const bytes of r.uploadBytes.values()) {
      expect(bytes).toBeGreaterThan(4 * m);
      expect(bytes).toBeLessThan(4 * m + 9 * 300 + 1000);
    }
  });
  it('identity helper produces usable keys', () => {
    expect(generateIdentityKeyPair(platform).secretKey.length).toBe(64);
  });
  it('SecAggError is an Error with a code', () => {
    const e = new SecAggError('SECAGG_REPLAY', 'x');
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe('SECAGG_REPLAY');
  });
});

describe('end to end with quantization and weighted FedAvg', () => {
  it('decodes the weighted mean of the survivors', async () => {
    const { WeightedEncoder } = await import('./quantize.js');
    const n = 8;
    const m = 33;
    const all = ids(n);
    const enc = new WeightedEncoder({ clip: 0.5, nMax: n, weightCap: 100, platform });
    const deltas = new Map(all.map((id, i) => [id, Float64Array.from({ length: m }, (_, j) => Math.sin(i * 7 + j) * 0.4)]));
    const weights = new Map(all.map((id, i) => [id, 10 + 13 * i]));
    const encoded = new Map<string, Uint32Array>();
    for (const id of all) encoded.set(id, await enc.encode(deltas.get(id)!, weights.get(id)!));
    const r = await simulateSecAggRound({
      session: 'e2e', round: 1, ids: all, k: 7, t: 5, vectorLength: m + 1, platform, nMax: n,
      input: (id) => encoded.get(id)!, drop: { maskedInput: [all[2]!] },
    });
    const survivors = all.filter((id) => id !== all[2]);
    const plain = new Uint32Array(m + 1);
    for (const id of survivors) addInto(plain, encoded.get(id)!);
    expect(r.sum).toEqual(plain);
    const dec = enc.decode(r.sum);
    const W = survivors.reduce((s, id) => s + Math.min(100, weights.get(id)!), 0);
    expect(dec.totalWeight).toBe(W);
    for (let j = 0; j < m; j++) {
      const exact = survivors.reduce((s, id) => s + deltas.get(id)![j]! * Math.min(100, weights.get(id)!), 0) / W;
      expect(Math.abs(dec.mean[j]! - exact)).toBeLessThan(n / enc.quantizer.scale / W + 1e-9);
    }
  });
  it('a cohort over nMax is refused with SECAGG_COHORT_TOO_LARGE', async () => {
    await expect(
      simulateSecAggRound({ session: 'e2e', round: 1, ids: ids(8), k: 7, t: 5, vectorLength: 4, platform, nMax: 7, input: () => new Uint32Array(4) }),
    ).rejects.toMatchObject({ code: 'SECAGG_COHORT_TOO_LARGE' });
  });
});
