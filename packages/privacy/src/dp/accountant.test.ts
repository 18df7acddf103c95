import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { computeEpsilon, computeSigma, RdpAccountant } from './accountant.js';
import { epsilonFromRdp } from './conversion.js';
import { ORDER_GRIDS, type OrderGridName } from './orders.js';
import { logAFrac, rdpSubsampledGaussian } from './rdp.js';

interface Vector {
  id: string;
  q?: number;
  sigma?: number;
  steps?: number;
  delta?: number;
  grid?: OrderGridName;
  conversion?: 'improved' | 'classic';
  eps?: number;
  order?: number;
  rdp_at?: Record<string, number>;
  rdp_constant?: number;
  rel_tol: number;
}

const file = fileURLToPath(new URL('../../../../test/vectors/dp-accountant.json', import.meta.url));
const data = JSON.parse(readFileSync(file, 'utf8')) as { vectors: Vector[] };

const relErr = (got: number, want: number): number => Math.abs(got - want) / Math.abs(want);

describe('accountant reference vectors (test/vectors/dp-accountant.json)', () => {
  it('has vectors', () => expect(data.vectors.length).toBeGreaterThanOrEqual(7));

  for (const v of data.vectors) {
    it(v.id, () => {
      if (v.rdp_at) {
        for (const [order, want] of Object.entries(v.rdp_at)) {
          const got = v.steps! * rdpSubsampledGaussian(v.q!, v.sigma!, Number(order));
          expect(relErr(got, want), `order ${order}`).toBeLessThanOrEqual(v.rel_tol);
        }
        return;
      }
      if (v.rdp_constant !== undefined) {
        const orders = ORDER_GRIDS[v.grid!];
        const r = epsilonFromRdp(orders, orders.map(() => v.rdp_constant!), v.delta!, v.conversion);
        expect(relErr(r.epsilon, v.eps!)).toBeLessThanOrEqual(v.rel_tol);
        if (v.order !== undefined) expect(r.order).toBe(v.order);
        return;
      }
      const r = computeEpsilon({ q: v.q!, sigma: v.sigma!, steps: v.steps!, delta: v.delta!, orders: v.grid, conversion: v.conversion });
      expect(relErr(r.epsilon, v.eps!)).toBeLessThanOrEqual(v.rel_tol);
      if (v.order !== undefined) expect(r.order).toBe(v.order);
    });
  }

  it('the signed fractional series reproduces Opacus to 1e-9 (unsigned is the conservative default)', () => {
    const v = data.vectors.find((x) => x.id === 'opacus-1')!;
    const orders = ORDER_GRIDS.opacus_default;
    const rdp = orders.map((a) =>
      Number.isInteger(a)
        ? v.steps! * rdpSubsampledGaussian(v.q!, v.sigma!, a)
        : (v.steps! * logAFrac(v.q!, v.sigma!, a, true)) / (a - 1),
    );
    const signed = epsilonFromRdp(orders, rdp, v.delta!).epsilon;
    expect(relErr(signed, v.eps!)).toBeLessThanOrEqual(1e-9);
    const unsigned = computeEpsilon({ q: v.q!, sigma: v.sigma!, steps: v.steps!, delta: v.delta!, orders: 'opacus_default' }).epsilon;
    expect(unsigned).toBeGreaterThanOrEqual(signed);
  });
});

describe('computeEpsilon / computeSigma', () => {
  it('q = 1 is the plain Gaussian mechanism: RDP = alpha / (2 sigma^2)', () => {
    expect(rdpSubsampledGaussian(1, 2, 8)).toBeCloseTo(1, 15);
  });

  it('classic conversion is never tighter than improved', () => {
    const p = { q: 0.01, sigma: 1.1, steps: 1000, delta: 1e-5 };
    expect(computeEpsilon({ ...p, conversion: 'classic' }).epsilon).toBeGreaterThan(computeEpsilon(p).epsilon);
  });

  it('computeSigma inverts computeEpsilon', () => {
    for (const [target, q, steps] of [
      [1, 0.01, 1000],
      [3, 0.05, 200],
      [8, 1, 10],
    ] as const) {
      const { sigma, epsilon } = computeSigma({ epsilon: target, q, steps, delta: 1e-5 });
      expect(epsilon).toBeLessThanOrEqual(target);
      expect(epsilon).toBeGreaterThan(target * (1 - 1e-6));
      expect(computeEpsilon({ q, sigma, steps, delta: 1e-5 }).epsilon).toBe(epsilon);
      // A slightly smaller sigma must miss the target.
      expect(computeEpsilon({ q, sigma: sigma * (1 - 1e-6), steps, delta: 1e-5 }).epsilon).toBeGreaterThan(target);
    }
  });

  it('validates inputs, naming the parameter', () => {
    expect(() => computeEpsilon({ q: 1.5, sigma: 1, steps: 1, delta: 1e-5 })).toThrow(/q:/);
    expect(() => computeEpsilon({ q: 0.1, sigma: '1' as unknown as number, steps: 1, delta: 1e-5 })).toThrow(TypeError);
    expect(() => computeEpsilon({ q: 0.1, sigma: 1, steps: 1.5, delta: 1e-5 })).toThrow(/steps:/);
    expect(() => computeEpsilon({ q: 0.1, sigma: 1, steps: 1, delta: 0 })).toThrow(/delta:/);
    expect(() => computeEpsilon({ q: 0.1, sigma: 1, steps: 1, delta: 1e-5, orders: 'nope' as OrderGridName })).toThrow(/orders:/);
    expect(() => computeEpsilon({ q: 0.1, sigma: 1, steps: 1, delta: 1e-5, orders: [0.5] })).toThrow(RangeError);
    expect(() => computeSigma({ epsilon: -1, q: 0.1, steps: 1, delta: 1e-5 })).toThrow(/epsilon:/);
  });
});

describe('RdpAccountant', () => {
  it('composes heterogeneous steps additively and matches computeEpsilon for one kind', () => {
    const a = new RdpAccountant();
    for (let i = 0; i < 100; i++) a.compose(0.01, 1.2);
    expect(a.steps).toBe(100);
    expect(a.events).toEqual([{ q: 0.01, sigma: 1.2, steps: 100 }]);
    const direct = computeEpsilon({ q: 0.01, sigma: 1.2, steps: 100, delta: 1e-5 });
    expect(a.epsilon(1e-5).epsilon).toBeCloseTo(direct.epsilon, 12);

    a.compose(0.02, 0.9, 50);
    const orders = ORDER_GRIDS.dp_accounting_default;
    const want = orders.map((o) => 100 * rdpSubsampledGaussian(0.01, 1.2, o) + 50 * rdpSubsampledGaussian(0.02, 0.9, o));
    expect(a.rdp(orders)).toEqual(want);
    expect(a.epsilon(1e-5).epsilon).toBeGreaterThan(direct.epsilon);
  });

  it('round-trips through JSON', () => {
    const a = new RdpAccountant().compose(0.01, 1.2, 10).compose(0.05, 2, 3);
    const b = RdpAccountant.fromJSON(JSON.parse(JSON.stringify(a)));
    expect(b.events).toEqual(a.events);
    expect(b.epsilon(1e-6, { orders: 'tfp_legacy' })).toEqual(a.epsilon(1e-6, { orders: 'tfp_legacy' }));
    expect(() => RdpAccountant.fromJSON({ version: 2, events: [] })).toThrow(RangeError);
    expect(() => RdpAccountant.fromJSON({ version: 1, events: [{ q: 2, sigma: 1, steps: 1 }] })).toThrow(/events\[0\]\.q/);
    expect(() => new RdpAccountant().compose(0.1, -1)).toThrow(/sigma/);
  });
});
