import { InvalidArgumentError } from 'commander';

/** Commander value parsers with messages that name the flag's expectation. */
export function int(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}; got '${value}'`);
    }
    return n;
  };
}

export function num(min: number, max = Infinity, exclusiveMin = false, exclusiveMax = false) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || (exclusiveMin && n === min) || n > max || (exclusiveMax && n === max)) {
      throw new InvalidArgumentError(`expected a number ${exclusiveMin ? '>' : '>='} ${min}${max < Infinity ? ` and ${exclusiveMax ? '<' : '<='} ${max}` : ''}; got '${value}'`);
    }
    return n;
  };
}

export function oneOf<T extends string>(values: readonly T[]) {
  return (value: string): T => {
    if (!(values as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}; got '${value}'`);
    return value as T;
  };
}
