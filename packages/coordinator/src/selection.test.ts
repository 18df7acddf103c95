import { describe, expect, it } from 'vitest';
import { cohortSize, roundSelectionKey, selectCohort, selectionKey, selectPoisson } from './selection.js';

const ids = Array.from({ length: 2000 }, (_, i) => `client-${i}`);

describe('cohort selection', () => {
  it('fixed cohorts have the configured size, are reproducible with a seed and differ across rounds', () => {
    expect(cohortSize(100, { fraction: 0.1, min: 2, max: 1000 })).toBe(10);
    expect(cohortSize(5, { fraction: 0.1, min: 2, max: 1000 })).toBe(2);
    const a = selectCohort(ids, 50, selectionKey(1, 7));
    expect(a).toHaveLength(50);
    expect(new Set(a).size).toBe(50);
    expect(selectCohort(ids, 50, selectionKey(1, 7))).toEqual(a);
    expect(selectCohort(ids, 50, selectionKey(2, 7))).not.toEqual(a);
  });

  it('Poisson sampling includes each client with probability q (binomial within 4 sigma)', () => {
    const q = 0.1;
    let total = 0;
    const perClient = new Map<string, number>();
    const rounds = 50;
    for (let r = 1; r <= rounds; r++) {
      const s = selectPoisson(ids, q, selectionKey(r, undefined)); // crypto key, as in production
      total += s.length;
      for (const id of s) perClient.set(id, (perClient.get(id) ?? 0) + 1);
    }
    const n = ids.length * rounds;
    expect(Math.abs(total - n * q)).toBeLessThan(4 * Math.sqrt(n * q * (1 - q)));
    // Sizes vary from round to round (not a fixed cohort), and membership is spread out.
    expect(perClient.size).toBeGreaterThan(ids.length * 0.9);
    // Reproducible with a seed-derived key.
    expect(selectPoisson(ids, q, selectionKey(3, 9))).toEqual(selectPoisson(ids, q, selectionKey(3, 9)));
    expect(() => selectPoisson(ids, 0, selectionKey(1, 1))).toThrow(RangeError);
  });

  it('keys a training round on the version it trains, not its round number (a re-run after a crash or a fleet failover selects the same cohort)', () => {
    // Round 2 trains version 1 -> 2; cut off, it is re-run as round 3 (or 7 after retries) on version 1.
    const first = selectCohort(ids, 50, roundSelectionKey('train', 2, 1, 11));
    expect(selectCohort(ids, 50, roundSelectionKey('train', 3, 1, 11))).toEqual(first);
    expect(selectCohort(ids, 50, roundSelectionKey('train', 7, 1, 11))).toEqual(first);
    // The next version, another seed: another cohort.
    expect(selectCohort(ids, 50, roundSelectionKey('train', 3, 2, 11))).not.toEqual(first);
    expect(selectCohort(ids, 50, roundSelectionKey('train', 2, 1, 12))).not.toEqual(first);
    // Evaluation rounds commit nothing: keyed on the round number.
    expect(selectCohort(ids, 50, roundSelectionKey('evaluate', 3, 1, 11))).not.toEqual(selectCohort(ids, 50, roundSelectionKey('evaluate', 4, 1, 11)));
    // Without a seed: fresh randomness every time.
    expect(roundSelectionKey('train', 2, 1, undefined)).not.toEqual(roundSelectionKey('train', 2, 1, undefined));
  });
});
