// Differential privacy under secure aggregation (issue #12 items 1, 2 and 11): the coordinator's
// SecureCollector plans the quantization, clients encode as the SDK does (DpQuantizer from the
// round's secagg.dp, distributed noise of sigma * Delta2 / sqrt(t)), the ring sum is decoded by
// the collector and released by the DP strategy. Real crypto randomness throughout.
import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FlockClient } from '@flock/client';
import { Coordinator, DifferentiallyPrivate, FedAvg, SecureCollector } from '@flock/coordinator';
import { createPresetModel, flatModelOf, selectBackend } from '@flock/model';
import { DpQuantizer, addInto, addLatticeNoise, computeEpsilon, distributedLocalStddev, planDpQuantization } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { FlockError } from '@flock/protocol';
import { checkEnforcedBound } from './dp-quantize-check.js';
import { fashionSlices } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `c${String(i).padStart(4, '0')}`);

function collector(n: number, numParams: number, dp: { mode: 'central' | 'distributed'; clip: number; noiseMultiplier: number }): SecureCollector {
  return new SecureCollector({
    session: 'dp-secagg',
    round: 1,
    cohort: ids(n),
    numParams,
    settings: { clip: dp.clip, weightCap: 10_000, stageTimeoutMs: 1000 },
    platform: nodePlatform,
    send: () => undefined,
    dp,
  });
}

/** What a client sends (before masking): the SDK's encoding for the round's config. */
async function clientInput(c: SecureCollector, delta: Float32Array, sigma: number, distributed: boolean): Promise<Uint32Array> {
  const cfg = c.config;
  expect(cfg.dp).toBeDefined();
  const q = new DpQuantizer({ clip: cfg.dp!.clip, scale: cfg.dp!.scale, dimension: cfg.vectorLength, platform: nodePlatform });
  const enc = await q.encode(delta);
  if (distributed) addLatticeNoise(enc, enc.length, distributedLocalStddev(sigma, q.bound, cfg.t));
  return enc;
}

describe('item 1: quantization sensitivity under SecAgg', () => {
  it('every quantized clipped update at d = 1e6, n = 1000 is within the bound the accountant uses (the slow suite does 1000 updates)', async () => {
    const { plan, maxRatio, maxAttempts } = await checkEnforcedBound(1_000_000, 1000, 8);
    // No weightCap in the scale: the rounding inflation is negligible at this scale.
    expect(plan.inflation).toBeLessThan(1 + 1e-6);
    expect(maxRatio).toBeLessThanOrEqual(plan.inflation);
    expect(maxAttempts).toBeLessThanOrEqual(3);
    // sqrt(d) / scale is small against C.
    expect(Math.sqrt(1e6) / plan.scale).toBeLessThan(1e-3);
  });

  it('the coordinator announces the scale and bound the clients enforce, without weights, and the noise is calibrated to that bound', async () => {
    const n = 20;
    const d = 5000;
    const c = collector(n, d, { mode: 'distributed', clip: 0.5, noiseMultiplier: 1 });
    const cfg = c.config;
    expect(cfg.vectorLength).toBe(d); // no weight element
    expect(cfg.dp!.bound).toBeGreaterThanOrEqual(0.5 * cfg.dp!.scale);
    const plan = planDpQuantization({ clip: 0.5, dimension: d, cohort: n, minSurvivors: cfg.t, noiseMultiplier: 1, distributed: true });
    expect(cfg.dp).toEqual({ clip: 0.5, scale: plan.scale, bound: plan.bound });
    // The decoded sum carries the enforced sensitivity, in model units, and the accountant's sigma.
    const sum = new Uint32Array(d);
    for (let i = 0; i < 3; i++) addInto(sum, await clientInput(c, new Float32Array(d).fill(0.5 / Math.sqrt(d)), 1, false));
    const agg = c.decodeSum(sum, 3);
    expect(agg.privacy!.sensitivity).toBeCloseTo(plan.bound / plan.scale, 12);
    expect(agg.privacy!.sensitivity).toBeGreaterThanOrEqual(0.5);
    expect(agg.privacy!.accountedNoiseMultiplier).toBe(1);
    expect(agg.privacy!.sum[0]!).toBeCloseTo(3 * 0.5 / Math.sqrt(d), 4);
  });

  it('flock privacy epsilon / the coordinator: the epsilon reported is the one for the enforced bound (q = 0.01, sigma = 1, 200 rounds)', () => {
    const plan = planDpQuantization({ clip: 1, dimension: 1e6, cohort: 1000, minSurvivors: 667, noiseMultiplier: 1, distributed: true });
    const reported = computeEpsilon({ q: 0.01, sigma: plan.accountedNoiseMultiplier, steps: 200, delta: 1e-5, subsampling: 'general' }).epsilon;
    // Noise sigma * Delta2 against sensitivity Delta2: the multiplier the accountant composes is sigma.
    expect(plan.accountedNoiseMultiplier).toBe(1);
    expect(plan.clientStddev * Math.sqrt(667)).toBeCloseTo(plan.bound, 3);
    expect(reported).toBeCloseTo(computeEpsilon({ q: 0.01, sigma: 1, steps: 200, delta: 1e-5, subsampling: 'general' }).epsilon, 12);
    // A sum of discrete Gaussians is not a Gaussian: its subsampling is accounted with the general
    // bound, never below the Gaussian-specific one (which would understate epsilon).
    expect(reported).toBeGreaterThan(computeEpsilon({ q: 0.01, sigma: 1, steps: 200, delta: 1e-5 }).epsilon);
  });
});

describe('item 2: client weights play no part under central DP with SecAgg', () => {
  it('the release is (sum + noise) / (q * population), with noise for the enforced sensitivity: no count, no weight', async () => {
    const n = 4;
    const d = 40_000;
    const clip = 1;
    const sigma = 1;
    const c = collector(n, d, { mode: 'central', clip, noiseMultiplier: sigma });
    // Three honest clients push coordinate 0 by C; the fourth (an attacker) sends the ring
    // element it likes. There is no weight element it could set to wrap the total weight.
    const sum = new Uint32Array(d);
    for (let i = 0; i < 3; i++) {
      const x = new Float32Array(d);
      x[0] = clip;
      addInto(sum, await clientInput(c, x, sigma, false));
    }
    const evil = new Uint32Array(d);
    evil[d - 1] = 2 ** 32 - 2; // what used to be the weight slot: now just a coordinate
    addInto(sum, evil);
    const agg = c.decodeSum(sum, n);
    const q = 0.05;
    const population = 80; // D = q * population = 4
    const dp = new DifferentiallyPrivate(new FedAvg(), { mode: 'central', noiseMultiplier: sigma, clip, samplingRate: q, delta: 1e-5 });
    const next = dp.aggregateFit(new Float32Array(d), agg, { round: 1, modelVersion: 0, config: { epochs: 1, batchSize: 1, learningRate: 1 }, population });
    const D = q * population;
    const sens = agg.privacy!.sensitivity;
    // Noise stddev on the released mean: sigma * sensitivity / D, measured over the d - 2 untouched coordinates.
    let sq = 0;
    for (let i = 1; i < d - 1; i++) sq += next[i]! * next[i]!;
    const std = Math.sqrt(sq / (d - 2));
    expect(std / ((sigma * sens) / D)).toBeGreaterThan(0.97);
    expect(std / ((sigma * sens) / D)).toBeLessThan(1.03);
    // The honest signal comes out over the public denominator (3 C / D), not over a weight total.
    expect(Math.abs(next[0]! - (3 * clip) / D)).toBeLessThan((6 * sigma * sens) / D);
    // The attacker's slot is its own contribution over D (-2 / scale / D), not a rescaled sum.
    expect(Math.abs(next[d - 1]! - -2 / c.config.dp!.scale / D)).toBeLessThan((6 * sigma * sens) / D);
  });
});

describe('item 11: the noisy sum never wraps around the ring', () => {
  it('weight cap 1, n = 3, sigma = 5 (the issue\'s case): no coordinate wraps, at the clipping extremes', async () => {
    const n = 3;
    const d = 20_000;
    const sigma = 5;
    const c = collector(n, d, { mode: 'distributed', clip: 1, noiseMultiplier: sigma });
    const scale = c.config.dp!.scale;
    // All three clients put their whole norm on the same coordinates' signs: coordinate sums at the extremes.
    const x = Float32Array.from({ length: d }, (_, i) => (i % 2 === 0 ? 1 : -1) / Math.sqrt(d));
    x[0] = 0.9; // and one coordinate near C itself
    const inputs: Uint32Array[] = [];
    for (let i = 0; i < n; i++) inputs.push(await clientInput(c, x, sigma, true));
    const sum = new Uint32Array(d);
    for (const v of inputs) addInto(sum, v);
    // The exact integer sum, without any wrap-around, from the int32 inputs.
    const exact = new Float64Array(d);
    for (const v of inputs) {
      const s = new Int32Array(v.buffer);
      for (let i = 0; i < d; i++) exact[i]! += s[i]!;
    }
    const decoded = c.decodeSum(sum, n).privacy!.sum;
    let wrapped = 0;
    for (let i = 0; i < d; i++) if (Math.abs(decoded[i]! * scale - exact[i]!) > 0.5) wrapped++;
    expect(wrapped).toBe(0);
    expect(c.dpPlan!.sumBound).toBeLessThanOrEqual(2 ** 31 - 1);
  });

  it('refuses a configuration no scale can serve with DP_UNAVAILABLE', () => {
    let err: unknown;
    try {
      planDpQuantization({ clip: 1, dimension: 2 ** 29, cohort: 2 ** 20, minSurvivors: 2 ** 19, noiseMultiplier: 50, distributed: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FlockError);
    expect((err as FlockError).code).toBe('DP_UNAVAILABLE');
  });
});

describe('DP with secure aggregation over real sockets', () => {
  for (const mode of ['distributed', 'central'] as const) {
    it(`${mode} mode: SDK clients encode by conditional rounding without weights; the round commits with the accountant's epsilon`, async () => {
      await selectBackend('auto');
      const init = createPresetModel('logreg', { seed: 3 });
      const strategy = new DifferentiallyPrivate(new FedAvg(), { mode, noiseMultiplier: 0.5, clip: 0.2, samplingRate: 1, delta: 1e-5 });
      const coordinator = new Coordinator({
        model: await flatModelOf(init),
        strategy,
        settings: { auth: 'open', sampling: 'poisson', minClients: 4, rounds: 1, roundTimeoutMs: 60_000, secureAggregation: { enabled: true, clip: 0.2, weightCap: 1000, stageTimeoutMs: 10_000 } },
      });
      init.dispose();
      const before = Float32Array.from(coordinator.store.latest().weights);
      const url = await coordinator.listen();
      cleanups.push(() => coordinator.close());
      const data = await fashionSlices(4, 40);
      const clients = data.map((d, i) => new FlockClient({ url, clientId: `dpsa-${mode}-${i}`, model: () => createPresetModel('logreg'), data: d, seed: i }));
      cleanups.push(async () => {
        await Promise.all(clients.map((c) => c.stop()));
        for (const d of data) tf.dispose([d.x, d.y]);
      });
      const errors: string[] = [];
      const secagg: Array<{ vectorLength: number; dp?: unknown }> = [];
      for (const c of clients) {
        c.on('error', (e) => errors.push(e.code));
        c.on('round:start', (r) => {
          if (r.secagg) secagg.push(r.secagg);
        });
      }
      await Promise.all(clients.map((c) => c.start()));
      coordinator.start();
      await coordinator.whenDone();
      expect(errors).toEqual([]);
      // Every client was told the DP quantization: no weight element, the scale and bound.
      expect(secagg).toHaveLength(4);
      for (const cfg of secagg) {
        expect(cfg.vectorLength).toBe(before.length);
        expect(cfg.dp).toMatchObject({ clip: 0.2 });
      }
      const after = coordinator.store.latest();
      expect(after.version).toBe(1);
      // The release moved the model (signal plus noise) and stayed finite.
      let moved = 0;
      for (let i = 0; i < before.length; i++) {
        expect(Number.isFinite(after.weights[i]!)).toBe(true);
        if (after.weights[i] !== before[i]) moved++;
      }
      expect(moved).toBeGreaterThan(before.length / 2);
      expect(strategy.epsilon()).toBeCloseTo(computeEpsilon({ q: 1, sigma: 0.5, steps: 1, delta: 1e-5, subsampling: mode === 'distributed' ? 'general' : 'gaussian' }).epsilon, 9);
    });
  }
});
