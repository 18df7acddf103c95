import os from 'node:os';
import { DpQuantizer, WeightedEncoder, computeEpsilon, planDpQuantization, secAggParameters } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { machineInfo } from './machine.js';

/**
 * Differential privacy under secure aggregation (issue #12): for d in {1e5, 1e6} and cohorts
 * n in {100, 1000}, the quantization plan the coordinator would use (clip C = 1, sigma = 1,
 * distributed mode, t from secAggParameters), the L2 bound conditional rounding enforces
 * (Delta2) against C * scale, the largest norm measured over random clipped updates, and the
 * epsilon the accountant reports for the enforced bound (q = 0.01, 200 rounds, as in the issue;
 * and the utility run's q = 0.1, 100 rounds). The old encoding (per-coordinate clip, scale
 * 2^31 / (n * 2C * weightCap), weightCap 10,000, unconditioned rounding) is measured on the same
 * updates for comparison: its norm over the C * scale its noise was calibrated to.
 */
export interface BenchDpOptions {
  quick?: boolean;
}

/** Random direction at L2 norm exactly `norm` (test data: xorshift, not privacy randomness). */
function update(d: number, norm: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const rnd = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  const v = new Float64Array(d);
  let sq = 0;
  for (let i = 0; i < d; i++) {
    const x = Math.sqrt(-2 * Math.log(rnd())) * Math.cos(2 * Math.PI * rnd());
    v[i] = x;
    sq += x * x;
  }
  const f = norm / Math.sqrt(sq);
  return Float32Array.from(v, (x) => x * f);
}

function int32Norm(v: Uint32Array, length: number): number {
  const s = new Int32Array(v.buffer, v.byteOffset, length);
  let sq = 0;
  for (let i = 0; i < length; i++) sq += s[i]! * s[i]!;
  return Math.sqrt(sq);
}

export async function* benchDp(opts: BenchDpOptions = {}): AsyncGenerator<Record<string, unknown>> {
  const machine = machineInfo();
  const clip = 1;
  const sigma = 1;
  const delta = 1e-5;
  for (const d of [100_000, 1_000_000]) {
    for (const n of [100, 1000]) {
      const t = secAggParameters({ cohortSize: n }).t;
      const plan = planDpQuantization({ clip, dimension: d, cohort: n, minSurvivors: t, noiseMultiplier: sigma, distributed: true });
      const q = new DpQuantizer({ clip, scale: plan.scale, dimension: d, platform: nodePlatform });
      const old = new WeightedEncoder({ clip, nMax: n, weightCap: 10_000, platform: nodePlatform });
      const samples = opts.quick ? 3 : d >= 1_000_000 ? 10 : 30;
      let maxNorm = 0;
      let maxOld = 0;
      let attempts = 0;
      let seconds = 0;
      for (let i = 0; i < samples; i++) {
        const x = update(d, clip, 1 + i + 7919 * n + d);
        const t0 = performance.now();
        const enc = await q.encode(x);
        seconds += (performance.now() - t0) / 1000;
        attempts += q.lastAttempts;
        maxNorm = Math.max(maxNorm, int32Norm(enc, d));
        maxOld = Math.max(maxOld, int32Norm(await old.encode(x, 1), d));
      }
      const eps = (qq: number, steps: number): number => computeEpsilon({ q: qq, sigma: plan.accountedNoiseMultiplier, steps, delta, subsampling: 'general' }).epsilon;
      yield {
        bench: 'dp-quantization',
        d,
        n,
        t,
        clip,
        noiseMultiplier: sigma,
        scale: plan.scale,
        clipTimesScale: clip * plan.scale,
        enforcedBound: plan.bound,
        boundOverClipScale: plan.inflation,
        maxMeasuredNormOverClipScale: maxNorm / (clip * plan.scale),
        samples,
        meanAttempts: attempts / samples,
        encodeSecondsMean: seconds / samples,
        clientStddevLattice: plan.clientStddev,
        sumBound: plan.sumBound,
        overflowProbability: plan.overflowProbability,
        accountedNoiseMultiplier: plan.accountedNoiseMultiplier,
        epsilonQ001Sigma1Rounds200: eps(0.01, 200),
        epsilonQ01Sigma1Rounds100: eps(0.1, 100),
        delta,
        oldScale: old.quantizer.scale,
        oldMaxNormOverClipScale: maxOld / (clip * old.quantizer.scale),
        loadAvg1: os.loadavg()[0],
        machine,
      };
    }
  }
}
