// Named grids of Renyi orders. The accountant minimises over the grid, so the grid is
// part of the result: the same (q, sigma, T, delta) gives slightly different epsilons
// under different grids. These reproduce the grids of the libraries the reference
// vectors come from (test/vectors/dp-accountant.json, "order_grids").

function range(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let i = lo; i <= hi; i++) out.push(i);
  return out;
}

// Computed exactly as the Python libraries do (`1 + x / 10.0`), so the orders are the
// same doubles and the reported optimal order compares equal.
const TENTHS = range(1, 99).map((x) => 1 + x / 10);

export const ORDER_GRIDS = {
  /** tensorflow_privacy's historical grid. */
  tfp_legacy: Object.freeze([1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5, ...range(5, 63), 128, 256, 512]),
  /** Google dp_accounting RdpAccountant default. */
  dp_accounting_default: Object.freeze([...TENTHS, ...range(11, 63), 128, 256, 512, 1024]),
  /** Opacus RDPAccountant default. */
  opacus_default: Object.freeze([...TENTHS, ...range(12, 63)]),
  /** Integers 2..32 (used by dp_accounting's conversion tests). */
  ints_2_32: Object.freeze(range(2, 32)),
} as const satisfies Record<string, readonly number[]>;

export type OrderGridName = keyof typeof ORDER_GRIDS;

export const DEFAULT_ORDER_GRID: OrderGridName = 'dp_accounting_default';

/** Resolve a grid name or an explicit list of orders, validating the orders. */
export function resolveOrders(orders: OrderGridName | readonly number[] | undefined): readonly number[] {
  if (orders === undefined) return ORDER_GRIDS[DEFAULT_ORDER_GRID];
  if (typeof orders === 'string') {
    if (!Object.prototype.hasOwnProperty.call(ORDER_GRIDS, orders)) {
      throw new RangeError(`orders: unknown grid '${orders}' (known: ${Object.keys(ORDER_GRIDS).join(', ')})`);
    }
    return ORDER_GRIDS[orders];
  }
  if (!Array.isArray(orders)) throw new TypeError('orders: expected a grid name or an array of numbers');
  if (orders.length === 0) throw new RangeError('orders: must not be empty');
  for (const a of orders) {
    if (typeof a !== 'number') throw new TypeError('orders: every order must be a number');
    if (!(a > 1) || !Number.isFinite(a)) throw new RangeError(`orders: every order must be finite and > 1, got ${a}`);
  }
  return orders;
}
