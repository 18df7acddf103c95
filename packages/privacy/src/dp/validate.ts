// Input checks shared by the public entry points. Wrong type -> TypeError, wrong value
// -> RangeError, and the message always names the parameter, so a caller passing
// `sigma` where `q` was expected learns which one is wrong.

export function checkNumber(name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${name}: expected a number, got ${typeof v}`);
  if (!Number.isFinite(v)) throw new RangeError(`${name}: must be finite, got ${v}`);
  return v;
}

export function checkPositive(name: string, v: unknown): number {
  const x = checkNumber(name, v);
  if (!(x > 0)) throw new RangeError(`${name}: must be > 0, got ${x}`);
  return x;
}

export function checkNonNegative(name: string, v: unknown): number {
  const x = checkNumber(name, v);
  if (!(x >= 0)) throw new RangeError(`${name}: must be >= 0, got ${x}`);
  return x;
}

/** A probability in the given interval; `open` ends are excluded. */
export function checkProbability(name: string, v: unknown, lowOpen: boolean, highOpen: boolean): number {
  const x = checkNumber(name, v);
  const okLow = lowOpen ? x > 0 : x >= 0;
  const okHigh = highOpen ? x < 1 : x <= 1;
  if (!okLow || !okHigh) {
    throw new RangeError(`${name}: must be in ${lowOpen ? '(' : '['}0, 1${highOpen ? ')' : ']'}, got ${x}`);
  }
  return x;
}

export function checkInteger(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const x = checkNumber(name, v);
  if (!Number.isInteger(x) || x < min || x > max) {
    throw new RangeError(`${name}: must be an integer in [${min}, ${max}], got ${x}`);
  }
  return x;
}

export function checkFloat32Array(name: string, v: unknown): Float32Array {
  if (!(v instanceof Float32Array)) throw new TypeError(`${name}: expected a Float32Array`);
  return v;
}
