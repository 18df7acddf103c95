/** Input checks shared by the strategy constructors (TypeError / RangeError naming the parameter). */

export interface NumberBounds {
  min?: number;
  max?: number;
  /** Exclusive lower bound. */
  above?: number;
  /** Exclusive upper bound. */
  below?: number;
}

function describe(b: NumberBounds): string {
  const parts: string[] = [];
  if (b.min !== undefined) parts.push(`>= ${b.min}`);
  if (b.above !== undefined) parts.push(`> ${b.above}`);
  if (b.max !== undefined) parts.push(`<= ${b.max}`);
  if (b.below !== undefined) parts.push(`< ${b.below}`);
  return parts.join(' and ');
}

/** Returns `value` (or `fallback` when undefined) after checking it is a finite number within bounds. */
export function checkNumber(name: string, value: unknown, fallback: number, bounds: NumberBounds): number {
  const v = value === undefined ? fallback : value;
  if (typeof v !== 'number' || Number.isNaN(v)) throw new TypeError(`${name} must be a number; got ${typeof v === 'number' ? 'NaN' : typeof v}`);
  const ok =
    Number.isFinite(v) &&
    (bounds.min === undefined || v >= bounds.min) &&
    (bounds.max === undefined || v <= bounds.max) &&
    (bounds.above === undefined || v > bounds.above) &&
    (bounds.below === undefined || v < bounds.below);
  if (!ok) throw new RangeError(`${name} must be a finite number ${describe(bounds)}; got ${v}`);
  return v;
}

/** Checks that an options argument is undefined or a plain object. */
export function checkOptions(name: string, options: unknown): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new TypeError(`${name} must be an options object`);
  return options as Record<string, unknown>;
}

/** Rejects option keys the constructor does not know (typos would otherwise be silently ignored). */
export function checkKnownKeys(name: string, options: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new TypeError(`${name}: unknown option "${key}"; valid options: ${known.join(', ') || '(none)'}`);
  }
}
