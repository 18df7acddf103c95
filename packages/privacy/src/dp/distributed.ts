// Who adds how much noise, in each DP mode. All three target the same aggregate noise
// multiplier sigma on the SUM of clipped updates (sensitivity C), so the accountant
// sees the same mechanism; they differ in who must be trusted:
//
//   central      the server adds N(0, (sigma C)^2) to the decoded sum. Guarantee against
//                everyone who sees the released model; the server sees the noise-free
//                sum (and, without SecAgg, the individual updates), so it is trusted.
//   distributed  every client adds discrete Gaussian noise on the quantized integer
//                lattice before masking. Stddev per client is sigma*C*scale/sqrt(t) for t
//                guaranteed survivors (SecAgg threshold), so any s >= t survivors give
//                total stddev sigma*C*scale*sqrt(s/t) >= sigma*C*scale: the server only
//                ever sees a sum that already carries at least the full noise. (A sum of
//                discrete Gaussians is close to, not exactly, a discrete Gaussian;
//                Kairouz, Liu, Steinke 2021 bound the gap, negligible once the per-client
//                stddev is a few lattice units.)
//   local        every client adds the full N(0, (sigma C)^2) to its own update, so each
//                update is private on its own, even against the server without SecAgg;
//                the sum carries sqrt(s) times the needed noise (poor utility).

import { checkInteger, checkNonNegative, checkPositive } from './validate.js';

export type DpMode = 'central' | 'distributed' | 'local';

export const DP_MODES: readonly DpMode[] = Object.freeze(['central', 'distributed', 'local']);

export interface NoisePlanParams {
  mode: DpMode;
  /** Noise multiplier sigma (stddev on the sum / clip norm). */
  noiseMultiplier: number;
  /** L2 clip norm C (model units). */
  clip: number;
  /** distributed: guaranteed number of survivors t (the SecAgg threshold), >= 1. */
  minSurvivors?: number;
  /** distributed: quantization scale (lattice units per model unit), > 0. */
  scale?: number;
}

export interface NoisePlan {
  mode: DpMode;
  /** Per-client noise stddev: lattice units in distributed mode, model units in local mode, 0 in central. */
  clientStddev: number;
  /** Whether client noise is the discrete Gaussian on the integer lattice. */
  clientDiscrete: boolean;
  /** Server noise stddev on the decoded sum (model units); 0 except in central mode. */
  serverStddev: number;
  /** The stddev on the sum the accountant assumes: sigma * C (model units). */
  targetStddev: number;
  /** Total noise stddev on the decoded sum (model units) with `survivors` contributing clients. */
  totalStddev(survivors: number): number;
}

/** Calibrate the noise for a mode. */
export function planNoise(params: NoisePlanParams): NoisePlan {
  if (params === null || typeof params !== 'object') throw new TypeError('params: expected an object');
  const { mode } = params;
  if (typeof mode !== 'string') throw new TypeError('mode: expected a string');
  if (!DP_MODES.includes(mode)) throw new RangeError(`mode: must be one of ${DP_MODES.join(', ')}, got '${mode}'`);
  const sigma = checkNonNegative('noiseMultiplier', params.noiseMultiplier);
  const clip = checkPositive('clip', params.clip);
  const target = sigma * clip;
  const survivorsCheck = (s: number): number => checkInteger('survivors', s, 1);

  if (mode === 'central') {
    return {
      mode,
      clientStddev: 0,
      clientDiscrete: false,
      serverStddev: target,
      targetStddev: target,
      totalStddev: (s) => (survivorsCheck(s), target),
    };
  }
  if (mode === 'local') {
    return {
      mode,
      clientStddev: target,
      clientDiscrete: false,
      serverStddev: 0,
      targetStddev: target,
      totalStddev: (s) => target * Math.sqrt(survivorsCheck(s)),
    };
  }
  const t = checkInteger('minSurvivors', params.minSurvivors, 1);
  const scale = checkPositive('scale', params.scale);
  return {
    mode,
    clientStddev: (target * scale) / Math.sqrt(t),
    clientDiscrete: true,
    serverStddev: 0,
    targetStddev: target,
    totalStddev: (s) => {
      survivorsCheck(s);
      if (s < t) throw new RangeError(`survivors: ${s} is below the guaranteed ${t}; the round must abort`);
      return target * Math.sqrt(s / t);
    },
  };
}
