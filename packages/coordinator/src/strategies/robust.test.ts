import { describe, expect, it } from 'vitest';
import { FlockError } from '@flock/protocol';
import { CoordinateMedianAggregator, FedMedian, medianOfSorted } from './median.js';
import { FedTrimmedMean, TrimmedMeanAggregator, trimCount, trimmedMeanOfSorted } from './trimmed-mean.js';

const A = [1, 5, -1];
const B = [3, 2, 0];
const C = [2, 100, 10];
const D = [10, 4, 1];
const E = [-50, 3, 2];

function feed<T extends { add(id: string, d: Float32Array, w: number): void }>(agg: T, rows: number[][], weights?: number[]): T {
  rows.forEach((r, i) => agg.add(`c${i}`, Float32Array.from(r), weights?.[i] ?? 1));
  return agg;
}

describe('coordinate-wise median', () => {
  it('takes the middle value per coordinate for an odd count, ignoring weights', () => {
    // columns: [1,3,2] -> 2; [5,2,100] -> 5; [-1,0,10] -> 0
    const r = feed(new CoordinateMedianAggregator(3), [A, B, C], [1, 1000, 1]).result();
    expect([...r.meanDelta]).toEqual([2, 5, 0]);
    expect(r.count).toBe(3);
    expect(r.totalWeight).toBe(1002);
  });

  it('averages the two middle values for an even count', () => {
    // sorted columns: [1,2,3,10] -> 2.5; [2,4,5,100] -> 4.5; [-1,0,1,10] -> 0.5
    const r = feed(new CoordinateMedianAggregator(3), [A, B, C, D]).result();
    expect([...r.meanDelta]).toEqual([2.5, 4.5, 0.5]);
  });

  it('of one or two updates', () => {
    expect([...feed(new CoordinateMedianAggregator(3), [A]).result().meanDelta]).toEqual(A);
    expect([...feed(new CoordinateMedianAggregator(3), [A, B]).result().meanDelta]).toEqual([2, 3.5, -0.5]);
    expect(medianOfSorted([1, 2, 3, 4, 5, 6])).toBe(3.5);
    expect(() => medianOfSorted([])).toThrow(RangeError);
  });

  it('keeps a copy of each update (the caller may reuse its buffer)', () => {
    const agg = new CoordinateMedianAggregator(3);
    const buf = Float32Array.from(A);
    agg.add('a', buf, 1);
    buf.set(B);
    agg.add('b', buf, 1);
    buf.set(C);
    agg.add('c', buf, 1);
    expect([...agg.result().meanDelta]).toEqual([2, 5, 0]);
  });

  it('needs individual updates and checks its input', () => {
    const agg = new CoordinateMedianAggregator(3);
    expect(agg.needsIndividualUpdates).toBe(true);
    expect(() => agg.result()).toThrow(FlockError);
    expect(() => agg.add('a', Float32Array.from([1, 2]), 1)).toThrow(RangeError);
    expect(() => agg.add('a', [1, 2, 3] as unknown as Float32Array, 1)).toThrow(TypeError);
    expect(() => agg.add('a', Float32Array.from([1, 2, 3]), 0)).toThrow(/weight/);
    expect(() => agg.add('a', Float32Array.from([1, Number.NaN, 3]), 1)).toThrow(/NaN/);
    agg.add('a', Float32Array.from([1, 2, 3]), 1);
    expect(() => agg.add('a', Float32Array.from([1, 2, 3]), 1)).toThrow(/already/);
    expect(() => new CoordinateMedianAggregator(0)).toThrow(RangeError);
  });

  it('FedMedian adds the median delta to the global model', () => {
    const s = new FedMedian();
    const agg = feed(s.createAggregator(3), [A, B, C]);
    const next = s.aggregateFit(Float32Array.from([1, 1, 1]), agg.result());
    expect([...next]).toEqual([3, 6, 1]);
    expect(s.name).toBe('median');
  });
});

describe('coordinate-wise trimmed mean', () => {
  it('trims floor(beta * n) values from each end per coordinate (n = 5, beta = 0.2: one each end)', () => {
    // sorted columns: [-50,1,2,3,10] -> (1+2+3)/3 = 2; [2,3,4,5,100] -> 4; [-1,0,1,2,10] -> 1
    const r = feed(new TrimmedMeanAggregator(3, 0.2), [A, B, C, D, E], [5, 1, 1, 1, 1]).result();
    expect([...r.meanDelta]).toEqual([2, 4, 1]);
    expect(r.count).toBe(5);
  });

  it('with an even count (n = 4, beta = 0.25: one each end)', () => {
    // sorted: [1,2,3,10] -> 2.5; [2,4,5,100] -> 4.5; [-1,0,1,10] -> 0.5
    expect([...feed(new TrimmedMeanAggregator(3, 0.25), [A, B, C, D]).result().meanDelta]).toEqual([2.5, 4.5, 0.5]);
  });

  it('trims nothing when beta * n < 1 (unweighted mean)', () => {
    // n = 5, beta = 0.1: k = 0 -> column 0 mean = (1+3+2+10-50)/5 = -6.8
    const r = feed(new TrimmedMeanAggregator(3, 0.1), [A, B, C, D, E]).result();
    expect(r.meanDelta[0]).toBeCloseTo(-6.8, 5);
    expect(r.meanDelta[1]).toBeCloseTo(114 / 5, 5);
    expect(r.meanDelta[2]).toBeCloseTo(12 / 5, 5);
  });

  it('trimCount is floor(beta * n), robust to float error, and keeps at least one value', () => {
    expect(trimCount(10, 0.1)).toBe(1);
    expect(trimCount(100, 0.29)).toBe(29); // 0.29 * 100 = 28.999999999999996 in float64
    expect(trimCount(9, 0.1)).toBe(0);
    expect(trimCount(2, 0.4999999999)).toBe(0);
    expect(trimCount(3, 0.49)).toBe(1);
    expect(trimmedMeanOfSorted([0, 1, 2, 3, 100], 0.2)).toBe(2);
  });

  it('checks beta', () => {
    expect(() => new TrimmedMeanAggregator(3, 0.5)).toThrow(/beta/);
    expect(() => new FedTrimmedMean({ beta: -0.1 })).toThrow(RangeError);
    expect(new FedTrimmedMean().beta).toBe(0.1);
  });

  it('FedTrimmedMean uses its beta in the aggregator', () => {
    const s = new FedTrimmedMean({ beta: 0.2 });
    const agg = s.createAggregator(3);
    expect(agg.needsIndividualUpdates).toBe(true);
    feed(agg, [A, B, C, D, E]);
    expect([...s.aggregateFit(new Float32Array(3), agg.result())]).toEqual([2, 4, 1]);
  });
});
