import { describe, expect, it } from 'vitest';
import { createRng } from '../rng.js';
import { assignShardLabels, partition, PartitionError } from './partition.js';
import { formatPartitionSpec, parsePartitionSpec, toPartitionSpec } from './spec.js';
import { formatPartitionSummary, partitionSummary } from './summary.js';

/** K classes with `perClass` examples each, interleaved (0,1,...,K-1,0,1,...). */
function makeLabels(K: number, perClass: number): Uint8Array {
  const y = new Uint8Array(K * perClass);
  for (let i = 0; i < y.length; i++) y[i] = i % K;
  return y;
}

function expectExactlyOnce(parts: Uint32Array[], n: number): void {
  const seen = new Uint8Array(n);
  let total = 0;
  let outOfRange = 0;
  for (const p of parts) {
    for (const i of p) {
      if (i >= n) outOfRange++;
      else seen[i]!++;
      total++;
    }
  }
  expect(outOfRange).toBe(0);
  expect(total).toBe(n);
  expect(seen.every((v) => v === 1)).toBe(true);
}

/** Mean over classes of the variance of the per-class client shares (about the known mean 1/n). */
function shareVariance(labels: Uint8Array, parts: Uint32Array[], K: number): number {
  const s = partitionSummary(labels, parts, K);
  const n = parts.length;
  let acc = 0;
  for (let k = 0; k < K; k++) {
    for (let j = 0; j < n; j++) acc += (s.counts[k]![j]! / s.classTotals[k]! - 1 / n) ** 2;
  }
  return acc / (K * n);
}

const dirVariance = (n: number, alpha: number): number => ((1 / n) * (1 - 1 / n)) / (n * alpha + 1);

describe('parsePartitionSpec', () => {
  it('parses the four forms', () => {
    expect(parsePartitionSpec('iid')).toEqual({ kind: 'iid' });
    expect(parsePartitionSpec(' Dirichlet:0.5 ')).toEqual({ kind: 'dirichlet', alpha: 0.5 });
    expect(parsePartitionSpec('shards:2')).toEqual({ kind: 'shards', labelsPerClient: 2 });
    expect(parsePartitionSpec('quantity:1e-1')).toEqual({ kind: 'quantity', alpha: 0.1 });
    for (const s of ['iid', 'dirichlet:0.5', 'shards:3', 'quantity:2']) expect(formatPartitionSpec(parsePartitionSpec(s))).toBe(s);
  });

  it('rejects bad specs with a RangeError listing the valid forms', () => {
    for (const bad of ['', 'noniid', 'dirichlet', 'dirichlet:', 'dirichlet:0', 'dirichlet:-1', 'dirichlet:abc', 'dirichlet:Infinity', 'shards:1.5', 'shards:0', 'iid:3', 'quantity:1:2']) {
      expect(() => parsePartitionSpec(bad), bad).toThrow(RangeError);
    }
    expect(() => parsePartitionSpec('dirichlet:0')).toThrow(/Valid forms:[\s\S]*iid[\s\S]*dirichlet:ALPHA[\s\S]*shards:C[\s\S]*quantity:ALPHA/);
    expect(() => parsePartitionSpec(3 as unknown as string)).toThrow(TypeError);
    expect(() => toPartitionSpec({ kind: 'dirichlet', alpha: -2 })).toThrow(RangeError);
    expect(() => toPartitionSpec({ kind: 'nope' } as unknown as 'iid')).toThrow(RangeError);
    expect(() => toPartitionSpec(null as unknown as string)).toThrow(TypeError);
  });
});

describe('partition', () => {
  const labels = makeLabels(10, 600); // 6,000 examples

  it.each(['iid', 'dirichlet:0.3', 'dirichlet:5', 'shards:1', 'shards:2', 'shards:3', 'quantity:0.5', 'quantity:10'])(
    '%s assigns every example exactly once',
    (spec) => {
      for (const clients of [1, 7, 20]) {
        if (spec.startsWith('shards:') && clients * Number(spec.slice(7)) < 10) continue;
        const parts = partition(labels, clients, spec, 11);
        expect(parts.length).toBe(clients);
        expectExactlyOnce(parts, labels.length);
        for (const p of parts) expect(p).toBeInstanceOf(Uint32Array);
      }
    },
  );

  it('is deterministic per seed and differs across seeds', () => {
    for (const spec of ['iid', 'dirichlet:0.5', 'shards:2', 'quantity:0.5']) {
      const a = partition(labels, 10, spec, 42);
      const b = partition(labels, 10, spec, 42);
      const c = partition(labels, 10, spec, 43);
      expect(a.map((p) => Array.from(p))).toEqual(b.map((p) => Array.from(p)));
      expect(a.map((p) => Array.from(p))).not.toEqual(c.map((p) => Array.from(p)));
    }
    // The object form and the string form give the same split.
    expect(partition(labels, 5, { kind: 'dirichlet', alpha: 0.5 }, 1).map((p) => Array.from(p))).toEqual(
      partition(labels, 5, 'dirichlet:0.5', 1).map((p) => Array.from(p)),
    );
  });

  it('iid gives equal sizes (within one) and every client all labels', () => {
    const parts = partition(labels, 7, 'iid', 3);
    const sizes = parts.map((p) => p.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(partitionSummary(labels, parts, 10).labelsPerClient.every((l) => l === 10)).toBe(true);
  });

  it('shards:C gives every client exactly C distinct labels and uses every label', () => {
    for (const [clients, C] of [[10, 2], [7, 3], [5, 2], [100, 1], [3, 4], [20, 10], [13, 5]] as const) {
      const y = makeLabels(10, 300);
      const parts = partition(y, clients, `shards:${C}`, clients * 31 + C);
      expectExactlyOnce(parts, y.length);
      const s = partitionSummary(y, parts, 10);
      expect(s.labelsPerClient.every((l) => l === C), `${clients} clients, C=${C}`).toBe(true);
      for (let k = 0; k < 10; k++) expect(s.counts[k]!.some((c) => c > 0)).toBe(true);
      // Label usage is balanced: each label held by floor or ceil(clients*C/10) clients.
      const holders = s.counts.map((row) => row.filter((c) => c > 0).length);
      expect(Math.max(...holders) - Math.min(...holders)).toBeLessThanOrEqual(1);
    }
  });

  it('shards:C assignment never gets stuck (random sizes)', () => {
    const rng = createRng(9);
    for (let t = 0; t < 300; t++) {
      const K = rng.int(1, 12);
      const C = rng.int(1, K);
      const n = rng.int(Math.ceil(K / C), 40);
      const held = assignShardLabels(Array.from({ length: K }, (_, i) => i), n, C, rng);
      const used = new Set<number>();
      for (const h of held) {
        expect(new Set(h).size).toBe(C);
        h.forEach((l) => used.add(l));
      }
      expect(used.size).toBe(K);
    }
  });

  it('shards:C rejects impossible settings', () => {
    expect(() => partition(labels, 3, 'shards:2', 1)).toThrow(PartitionError); // 6 < 10 labels
    expect(() => partition(labels, 3, 'shards:2', 1)).toThrow(/at least 5 clients/);
    expect(() => partition(labels, 20, 'shards:11', 1)).toThrow(/only 10/);
  });

  it('dirichlet:ALPHA label shares follow Dir(alpha): mean 1/n and the predicted variance', () => {
    const y = makeLabels(10, 10_000);
    const n = 40;
    for (const alpha of [0.1, 0.5, 2]) {
      let v = 0;
      const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
      for (const seed of seeds) {
        const parts = partition(y, n, `dirichlet:${alpha}`, seed, { minSize: 0 });
        expectExactlyOnce(parts, y.length);
        const s = partitionSummary(y, parts, 10);
        for (let k = 0; k < 10; k++) {
          const mean = s.counts[k]!.reduce((a, c) => a + c / s.classTotals[k]!, 0) / n;
          expect(mean).toBeCloseTo(1 / n, 6);
        }
        v += shareVariance(y, parts, 10) / seeds.length;
      }
      const expected = dirVariance(n, alpha);
      expect(Math.abs(v - expected) / expected, `alpha=${alpha}: variance ${v} vs ${expected}`).toBeLessThan(0.15);
    }
  });

  it('dirichlet: smaller alpha gives more label skew than larger alpha', () => {
    const y = makeLabels(10, 1000);
    const skewed = partitionSummary(y, partition(y, 20, 'dirichlet:0.1', 5), 10);
    const mild = partitionSummary(y, partition(y, 20, 'dirichlet:100', 5), 10);
    const meanLabels = (s: typeof skewed) => s.labelsPerClient.reduce((a, b) => a + b, 0) / s.numClients;
    expect(meanLabels(skewed)).toBeLessThan(6);
    expect(meanLabels(mild)).toBe(10);
    expect(shareVariance(y, partition(y, 20, 'dirichlet:0.1', 5), 10)).toBeGreaterThan(20 * shareVariance(y, partition(y, 20, 'dirichlet:100', 5), 10));
  });

  it('dirichlet: re-samples until every client has minSize examples, and gives up after maxTries', () => {
    const y = makeLabels(10, 500);
    for (const seed of [1, 2, 3]) {
      const parts = partition(y, 50, 'dirichlet:0.1', seed, { minSize: 10 });
      expect(Math.min(...parts.map((p) => p.length))).toBeGreaterThanOrEqual(10);
    }
    expect(() => partition(y, 50, 'dirichlet:0.01', 1, { minSize: 90, maxTries: 3 })).toThrow(PartitionError);
    expect(() => partition(y, 50, 'dirichlet:0.01', 1, { minSize: 90, maxTries: 3 })).toThrow(/larger alpha/);
  });

  it('dirichlet selfBalancing (NIID-Bench cap) still assigns each example once and evens sizes', () => {
    const y = makeLabels(10, 2000);
    let spreadPlain = 0;
    let spreadBalanced = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      const plain = partition(y, 20, 'dirichlet:0.3', seed);
      const balanced = partition(y, 20, 'dirichlet:0.3', seed, { selfBalancing: true });
      expectExactlyOnce(balanced, y.length);
      spreadPlain += Math.max(...plain.map((p) => p.length));
      spreadBalanced += Math.max(...balanced.map((p) => p.length));
    }
    expect(spreadBalanced).toBeLessThan(spreadPlain);
  });

  it('quantity:ALPHA sizes follow Dir(alpha) while labels stay IID', () => {
    const y = makeLabels(10, 5000);
    const n = 30;
    for (const alpha of [0.5, 5]) {
      let v = 0;
      const seeds = Array.from({ length: 24 }, (_, i) => i + 1);
      for (const seed of seeds) {
        const parts = partition(y, n, `quantity:${alpha}`, seed, { minSize: 0 });
        expectExactlyOnce(parts, y.length);
        v += parts.reduce((a, p) => a + (p.length / y.length - 1 / n) ** 2, 0) / n / seeds.length;
        // Labels IID: chi-square of label counts against the global label mix.
        const s = partitionSummary(y, parts, 10);
        let chi2 = 0;
        let df = 0;
        for (let j = 0; j < n; j++) {
          const size = s.clientSizes[j]!;
          if (size < 50) continue;
          df += 9;
          for (let k = 0; k < 10; k++) chi2 += (s.counts[k]![j]! - size / 10) ** 2 / (size / 10);
        }
        expect(chi2).toBeLessThan(df + 6 * Math.sqrt(2 * df));
      }
      const expected = dirVariance(n, alpha);
      expect(Math.abs(v - expected) / expected, `alpha=${alpha}`).toBeLessThan(0.3);
    }
    // Smaller alpha, more unequal sizes.
    const cv = (parts: Uint32Array[]) => {
      const sizes = parts.map((p) => p.length);
      const m = sizes.reduce((a, b) => a + b, 0) / sizes.length;
      return Math.sqrt(sizes.reduce((a, b) => a + (b - m) ** 2, 0) / sizes.length) / m;
    };
    expect(cv(partition(y, 30, 'quantity:0.3', 1))).toBeGreaterThan(3 * cv(partition(y, 30, 'quantity:50', 1)));
    // A label-skewed split fails the same chi-square test.
    const skew = partitionSummary(y, partition(y, 30, 'dirichlet:0.3', 1), 10);
    let chi2 = 0;
    for (let j = 0; j < 30; j++) for (let k = 0; k < 10; k++) chi2 += (skew.counts[k]![j]! - skew.clientSizes[j]! / 10) ** 2 / (skew.clientSizes[j]! / 10);
    expect(chi2).toBeGreaterThan(10 * 270);
  });

  it('checks its inputs', () => {
    expect(() => partition([0, 1] as unknown as Uint8Array, 1, 'iid', 1)).toThrow(TypeError);
    expect(() => partition(labels, 0, 'iid', 1)).toThrow(RangeError);
    expect(() => partition(labels, 2.5, 'iid', 1)).toThrow(/numClients/);
    expect(() => partition(labels, '2' as unknown as number, 'iid', 1)).toThrow(TypeError);
    expect(() => partition(labels, 2, 'iid', 1.5)).toThrow(/seed/);
    expect(() => partition(labels, 2, 'bogus', 1)).toThrow(/Valid forms/);
    expect(() => partition(new Uint8Array(3), 4, 'iid', 1)).toThrow(/larger than the number of examples/);
    expect(() => partition(labels, 10, 'dirichlet:1', 1, { minSize: 700 })).toThrow(/minSize/);
    expect(() => partition(labels, 10, 'dirichlet:1', 1, { maxTries: 0 })).toThrow(/maxTries/);
  });

  it('works on tiny data sets (minSize is capped at examples per client)', () => {
    const y = makeLabels(3, 4); // 12 examples
    for (const spec of ['iid', 'dirichlet:0.5', 'quantity:1', 'shards:1']) expectExactlyOnce(partition(y, 3, spec, 1), 12);
  });
});

describe('partitionSummary / formatPartitionSummary', () => {
  it('counts labels per client', () => {
    const y = Uint8Array.from([0, 1, 1, 2, 0]);
    const s = partitionSummary(y, [Uint32Array.from([0, 1]), Uint32Array.from([2, 3, 4])], 3);
    expect(s.counts).toEqual([
      [1, 1],
      [1, 1],
      [0, 1],
    ]);
    expect(s.clientSizes).toEqual([2, 3]);
    expect(s.classTotals).toEqual([2, 2, 1]);
    expect(s.labelsPerClient).toEqual([2, 3]);
    expect(s.total).toBe(5);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    const text = formatPartitionSummary(s, { classNames: ['a', 'b', 'c'] });
    expect(text).toContain('c0');
    expect(text).toContain('0 a');
    expect(text).toMatch(/2 clients, 5 examples/);
    expect(() => partitionSummary(y, [Uint32Array.from([9])], 3)).toThrow(RangeError);
    expect(() => partitionSummary(y, [Uint32Array.from([3])], 2)).toThrow(/numClasses/);
  });

  it('is compact for many clients', () => {
    const y = makeLabels(10, 100);
    const s = partitionSummary(y, partition(y, 50, 'iid', 1), 10);
    const text = formatPartitionSummary(s, { maxClients: 8 });
    const header = text.split('\n')[0]!;
    expect(header).toContain('c0');
    expect(header).toContain('c49');
    expect(header).toContain('…');
    expect(header).not.toContain('c10 ');
    expect(text.split('\n').every((l) => l.length < 120)).toBe(true);
    expect(text).toMatch(/50 clients, 1000 examples; examples per client min 20 \/ median 20 \/ max 20/);
  });
});
