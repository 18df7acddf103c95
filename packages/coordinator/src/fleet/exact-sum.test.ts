import { FlockError } from '@flock/protocol';
import { describe, expect, it } from 'vitest';
import { PartialSumAggregator } from './partial-sum.js';
import { EXACT_SUM_RANGE, ExactSumAggregator } from './exact-sum.js';

const N = 64;

/** Deterministic pseudo-random float32 updates with values spread over many magnitudes. */
function updates(count: number): Array<{ id: string; delta: Float32Array; weight: number }> {
  let s = 12345;
  const next = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  return Array.from({ length: count }, (_, c) => {
    const delta = new Float32Array(N);
    // Large and tiny values mixed: float64 sums of these depend on the order of addition.
    for (let i = 0; i < N; i++) delta[i] = (next() - 0.5) * 10 ** Math.floor(next() * 8 - 5);
    return { id: `c${c}`, delta, weight: 1 + Math.floor(next() * 500) };
  });
}

/** A fleet's merged sum: clients grouped on nodes, node partials merged in the given order. */
function merged(make: (n: number) => PartialSumAggregator, groups: number[][], all: ReturnType<typeof updates>, order: number[], size = N): Uint8Array {
  const leader = make(size);
  for (const g of order) {
    const node = make(size);
    for (const c of groups[g]!) node.add(all[c]!.id, all[c]!.delta, all[c]!.weight);
    const p = node.partial();
    leader.addPartial(Float64Array.from(p.sum), p.weightTotal, p.count);
  }
  return new Uint8Array(leader.result().meanDelta.buffer);
}

function shuffled<T>(xs: T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('ExactSumAggregator (fleet deterministic mode)', () => {
  const all = updates(24);
  const ids = all.map((_, i) => i);
  // Many ways to spread the same 24 clients over nodes, and to order updates and partials.
  const layouts = Array.from({ length: 40 }, (_, k) => {
    const order = shuffled(ids, 7 + k);
    const nodes = 1 + (k % 5);
    const groups = Array.from({ length: nodes }, (_, g) => order.filter((_, i) => i % nodes === g));
    return { groups, partialOrder: shuffled(groups.map((_, g) => g), 99 + k) };
  });

  it('gives the same bits whichever clients sit on which node and in whatever order they arrive', () => {
    const results = layouts.map((l) => Buffer.from(merged((n) => new ExactSumAggregator(n), l.groups, all, l.partialOrder)).toString('hex'));
    expect(new Set(results).size).toBe(1);
  });

  it('where float64 partial sums depend on the grouping and the order of partials (the bug it fixes)', () => {
    // Float32 rounding of the mean hides most float64 differences, but not all: with a large
    // value and its opposite on two nodes, a small one on a third survives or not by order.
    const three = [Float32Array.from([1, 0.5]), Float32Array.from([-1, -0.5]), Float32Array.from([2 ** -60, 2 ** -30])].map((delta, i) => ({ id: `c${i}`, delta, weight: 1 }));
    const layoutsOf = [
      { groups: [[0], [1], [2]], order: [0, 1, 2] },
      { groups: [[0], [1], [2]], order: [0, 2, 1] },
      { groups: [[0, 2], [1]], order: [0, 1] },
    ];
    const float = layoutsOf.map((l) => Buffer.from(merged((n) => new PartialSumAggregator(n), l.groups, three, l.order, 2)).toString('hex'));
    expect(new Set(float).size).toBeGreaterThan(1);
    const exact = layoutsOf.map((l) => Buffer.from(merged((n) => new ExactSumAggregator(n), l.groups, three, l.order, 2)).toString('hex'));
    expect(new Set(exact).size).toBe(1);
  });

  it('agrees with the float64 weighted mean to well below float32 precision', () => {
    const exact = new ExactSumAggregator(N);
    const ref = new PartialSumAggregator(N);
    for (const u of all) {
      exact.add(u.id, u.delta, u.weight);
      ref.add(u.id, u.delta, u.weight);
    }
    const a = exact.result();
    const b = ref.result();
    expect(a.totalWeight).toBe(b.totalWeight);
    expect(a.count).toBe(24);
    // Each term is rounded to 2^-40 at most: the mean moves by at most 2^-41 (weights >= 1).
    for (let i = 0; i < N; i++) expect(Math.abs(a.meanDelta[i]! - b.meanDelta[i]!)).toBeLessThanOrEqual(2 ** -41 + Math.abs(b.meanDelta[i]!) * 2 ** -23);
  });

  it('handles negative values and carries between the limbs exactly', () => {
    const agg = new ExactSumAggregator(3);
    const d = Float32Array.from([-(2 ** -40), 2 ** -8, -3.5]);
    for (let k = 0; k < 1000; k++) agg.add(`c${k}`, d, 1000);
    expect(agg.value(0)).toBe(-1000 * 1000 * 2 ** -40);
    expect(agg.value(1)).toBe(1000 * 1000 * 2 ** -8);
    expect(agg.value(2)).toBe(-3.5e6);
    // Adding and taking away the same values returns to exactly zero.
    const z = new ExactSumAggregator(3);
    z.add('a', d, 7);
    z.add('b', Float32Array.from(d, (x) => -x), 7);
    expect([z.value(0), z.value(1), z.value(2)]).toEqual([0, 0, 0]);
  });

  it('refuses an update that would leave the exact range with SUM_OVERFLOW, changing nothing', () => {
    const agg = new ExactSumAggregator(3);
    agg.add('a', Float32Array.from([1, 2, 3]), 10);
    const before = agg.partial();
    // 2^44 is the range: the third value overflows after the first two were added (and undone).
    const big = Float32Array.from([1, 1, EXACT_SUM_RANGE]);
    let err: unknown;
    try {
      agg.add('b', big, 1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FlockError);
    expect((err as FlockError).code).toBe('SUM_OVERFLOW');
    expect((err as FlockError).details).toMatchObject({ index: 2 });
    expect(agg.partial()).toEqual(before);
    // Just below the range still adds exactly.
    agg.add('c', Float32Array.from([0, 0, 2 ** 43]), 1);
    expect(agg.value(2)).toBe(30 + 2 ** 43);
    // A partial that would overflow the leader's sum is refused the same way.
    const other = new ExactSumAggregator(3);
    other.add('d', Float32Array.from([0, 0, 2 ** 43]), 1);
    const p = other.partial();
    expect(() => agg.addPartial(p.sum, p.weightTotal, p.count)).toThrow(expect.objectContaining({ code: 'SUM_OVERFLOW' }) as Error);
    expect(agg.value(2)).toBe(30 + 2 ** 43);
  });

  it('refuses a float64 partial (a node not in deterministic mode) and malformed limbs', () => {
    const agg = new ExactSumAggregator(2);
    expect(() => agg.addPartial(new Float64Array(2), 1, 1)).toThrow(/every node of the fleet must run with --deterministic/);
    expect(() => agg.addPartial(Float64Array.from([0.5, 0, 0, 0]), 1, 1)).toThrow(RangeError);
    expect(() => agg.addPartial(Float64Array.from([0, 0, 2 ** 32, 0]), 1, 1)).toThrow(RangeError);
    expect(() => agg.addPartial(Float64Array.from([0, 0, 0, 0]), 1.5, 1)).toThrow(RangeError);
    // And a float64 leader refuses an exact partial (twice the length).
    const exact = new ExactSumAggregator(2);
    exact.add('a', Float32Array.from([1, 1]), 1);
    expect(() => new PartialSumAggregator(2).addPartial(exact.partial().sum, 1, 1)).toThrow(RangeError);
  });

  it('checks its inputs', () => {
    const agg = new ExactSumAggregator(2);
    expect(() => agg.add('a', [1, 2] as unknown as Float32Array, 1)).toThrow(TypeError);
    expect(() => agg.add('a', new Float32Array(3), 1)).toThrow(RangeError);
    expect(() => agg.add('a', new Float32Array(2), 1.5)).toThrow(/weight must be a positive integer/);
    expect(() => agg.value(2)).toThrow(RangeError);
    expect(() => agg.result()).toThrow(expect.objectContaining({ code: 'TOO_FEW_REPORTS' }) as Error);
  });
});
