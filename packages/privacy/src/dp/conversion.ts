// RDP -> (epsilon, delta)-DP conversions. Both are valid upper bounds; 'improved' is
// tighter and is what dp_accounting and Opacus report:
//
//   classic  (Mironov 2017, Prop. 3):           eps(a) = rdp(a) + ln(1/delta) / (a - 1)
//   improved (Balle et al. 2020 / Canonne,
//             Kamath, Steinke 2020, Prop. 12):  eps(a) = rdp(a) + ln((a-1)/a) - (ln(delta) + ln(a)) / (a - 1)
//
// and epsilon = min over the order grid. The order achieving the minimum is returned
// too: if it sits at the edge of the grid, the grid is too narrow for the regime.

import { checkProbability } from './validate.js';

export type Conversion = 'improved' | 'classic';

export interface EpsilonResult {
  /** The (epsilon, delta)-DP epsilon, >= 0. */
  epsilon: number;
  /** The Renyi order at which the minimum was attained. */
  order: number;
}

function epsilonAtOrder(a: number, rdp: number, delta: number, conversion: Conversion): number {
  if (conversion === 'classic') return rdp - Math.log(delta) / (a - 1);
  // As in dp_accounting: when delta^2 + expm1(-rdp) > 0 the KL bound
  // delta <= sqrt(1 - exp(-KL)) already certifies eps = 0 (RDP at a >= KL divergence).
  if (delta * delta + Math.expm1(-rdp) > 0) return 0;
  // The bound is numerically unstable as a -> 1 and useless there anyway.
  if (a <= 1.01) return Infinity;
  return rdp + Math.log1p(-1 / a) - Math.log(delta * a) / (a - 1);
}

/** Convert per-order RDP values to (epsilon, delta)-DP, minimising over the orders. */
export function epsilonFromRdp(
  orders: readonly number[],
  rdp: readonly number[],
  delta: number,
  conversion: Conversion = 'improved',
): EpsilonResult {
  checkProbability('delta', delta, true, true);
  if (conversion !== 'improved' && conversion !== 'classic') {
    throw new RangeError(`conversion: must be 'improved' or 'classic', got ${String(conversion)}`);
  }
  if (!Array.isArray(orders)) throw new TypeError('orders: expected an array of numbers');
  if (!Array.isArray(rdp)) throw new TypeError('rdp: expected an array of numbers');
  if (orders.length !== rdp.length || orders.length === 0) {
    throw new RangeError('rdp: must have one value per order (and at least one order)');
  }
  let best = Infinity;
  let bestOrder = NaN;
  for (let i = 0; i < orders.length; i++) {
    const a = orders[i]!;
    const r = rdp[i]!;
    if (typeof a !== 'number') throw new TypeError('orders: every order must be a number');
    if (typeof r !== 'number') throw new TypeError('rdp: every value must be a number');
    if (!(a > 1)) throw new RangeError(`orders: every order must be > 1, got ${a}`);
    if (Number.isNaN(r) || r < 0) throw new RangeError(`rdp: values must be >= 0, got ${r} at order ${a}`);
    const e = epsilonAtOrder(a, r, delta, conversion);
    if (e < best) {
      best = e;
      bestOrder = a;
    }
  }
  return { epsilon: Math.max(0, best), order: bestOrder };
}
