import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readJsonInstances } from './json-instances.js';
import { parseJsonBody, parseJsonInstances } from './inputs.js';

const shape = [2, 1];

/** The reference: JSON.parse, then the zod-checked flattening (the path every error comes from). */
function reference(text: string, maxBatch: number): Float32Array | undefined {
  try {
    return parseJsonInstances(JSON.parse(text), shape, maxBatch).data;
  } catch {
    return undefined;
  }
}

/** Bit patterns, so -0 and 0 differ. */
const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

// JSON number texts: short and long mantissas (past the 15 digits kept exactly), exponents near
// and past float64's range, leading zeros of fractions, signs, and texts JSON does not allow.
const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
const jsonNumber = fc.oneof(
  { weight: 6, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map(String) },
  { weight: 6, arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true }).map(String) },
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom('', '-'), digits(1, 25), fc.option(digits(1, 25)), fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(1, 4)))).map(
    ([s, i, f, e]) => `${s}${i.replace(/^0+(?=\d)/, '')}${f === null ? '' : `.${f}`}${e === null ? '' : e.join('')}`,
  ) },
  { weight: 3, arbitrary: fc.constantFrom('0', '-0', '0.0', '-0.0e5', '1e308', '1e309', '-1e400', '1e-400', '4.9e-324', '3.4028235e38', '3.4028236e38', '1.00000005960464477539', '0.100000001490116119384765625') },
  { weight: 1, arbitrary: fc.constantFrom('01', '1.', '.5', '+1', '-', '1e', '1e+', 'NaN', 'Infinity', '--1', '0x10', '1_0', 'true', 'null', '"1"') },
);
const ws = fc.oneof({ weight: 30, arbitrary: fc.constantFrom('', '', '', ' ', '\n', '\t ', '\r\n') }, { weight: 1, arbitrary: fc.constant('\u00a0') });
const instance = fc.tuple(ws, jsonNumber, ws, jsonNumber, ws).map(([a, x, b, y, c]) => `[${a}[${x}]${b},[${y}]${c}]`);
const wrongInstance = fc.oneof(
  jsonNumber.map((x) => `[[${x}]]`),
  jsonNumber.map((x) => `[[${x}],[${x}],[${x}]]`),
  jsonNumber.map((x) => `[${x},${x}]`),
  jsonNumber.map((x) => `[[${x}],[${x}],]`),
);
const list = fc.array(fc.oneof({ weight: 8, arbitrary: instance }, { weight: 1, arbitrary: wrongInstance }), { maxLength: 5 }).map((xs) => `[${xs.join(',')}]`);
const key = fc.constantFrom('"instances"', '"inputs"', '"instances"', '"signature_name"', '"extra"', '"inst\\u0061nces"', '"__proto__"');
const value = fc.oneof(list, fc.constantFrom('"serving_default"', '"x\\"y"', `"${'s'.repeat(128)}"`, `"${'s'.repeat(129)}"`, '"é"', '1', 'null', '[]'));
const body = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(ws, list, ws).map(([a, l, b]) => `${a}{${b}"instances"${a}:${b}${l}}${a}`) },
  { weight: 3, arbitrary: fc.array(fc.tuple(key, ws, value), { maxLength: 3 }).map((kv) => `{${kv.map(([k, w, v]) => `${k}${w}:${w}${v}`).join(',')}}`) },
  { weight: 1, arbitrary: fc.tuple(list, fc.constantFrom('', ',', '}', ' x', '\u0000', '\ufeff')).map(([l, tail]) => `{"inputs":${l}}${tail}`) },
  { weight: 1, arbitrary: fc.tuple(list, fc.constantFrom('\ufeff', '[', ',')).map(([l, head]) => `${head}{"inputs":${l}}`) },
);

describe('reading JSON instances from the request bytes', () => {
  it('accepts only what JSON.parse and the schema accept, with the same float32 bits', () => {
    let fast = 0;
    let declined = 0;
    fc.assert(
      fc.property(body, fc.integer({ min: 1, max: 6 }), (text, maxBatch) => {
        const got = readJsonInstances(Buffer.from(text), shape, maxBatch);
        const want = reference(text, maxBatch);
        if (got) {
          fast++;
          expect(want).toBeDefined();
          expect(bits(got.data)).toEqual(bits(want!));
          expect(got.rows).toBe(want!.length / 2);
        } else if (want) declined++; // escaped or duplicate keys: JSON.parse decides
        // The entry point agrees with the reference either way (same values, or an error).
        let entry: Float32Array | undefined;
        try {
          entry = parseJsonBody(Buffer.from(text), shape, maxBatch).data;
        } catch {
          entry = undefined;
        }
        expect(entry && bits(entry)).toEqual(want && bits(want));
      }),
      { numRuns: 4000 },
    );
    // The fast path carried most valid bodies; the fallback was exercised too.
    expect(fast).toBeGreaterThan(200);
    expect(declined).toBeGreaterThan(0);
  });

  it('reads every body JSON.stringify writes, whatever the numbers', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e30, max: 1e30 }), fc.float({ noNaN: true, noDefaultInfinity: true })), fc.double({ noNaN: true, noDefaultInfinity: true })), { minLength: 1, maxLength: 8 }), (rows) => {
        const text = JSON.stringify({ instances: rows.map(([a, b]) => [[a], [b]]) });
        const got = readJsonInstances(Buffer.from(text), shape, 8);
        expect(got).toBeDefined();
        // (JSON.stringify writes -0 as 0.)
        expect(bits(got!.data)).toEqual(bits(Float32Array.from(rows.flat(), (v) => (v === 0 ? 0 : v))));
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps typed errors: non-finite, wrong shape, too many rows, not JSON', () => {
    const code = (text: string, maxBatch = 4): string | undefined => {
      try {
        parseJsonBody(Buffer.from(text), shape, maxBatch);
        return undefined;
      } catch (e) {
        return (e as { code?: string }).code;
      }
    };
    expect(code('{"instances":[[[1e999],[1]]]}')).toBe('NON_FINITE');
    expect(code('{"instances":[[[1],[2],[3]]]}')).toBe('WRONG_SHAPE');
    expect(code('{"instances":[[[1],[2]],[[1],[2]]]}', 1)).toBe('PAYLOAD_TOO_LARGE');
    expect(code('{"instances":[[[1],[2]]]')).toBe('BAD_MESSAGE');
    expect(code('{"instances":[[[NaN],[2]]]}')).toBe('BAD_MESSAGE');
    expect(code('{"rows":[[[1],[2]]]}')).toBe('BAD_MESSAGE');
    expect(code('{"instances":[[[1],[2]]],"signature_name":"serving_default"}')).toBeUndefined();
  });

  it('returns a buffer of its own for each request (the scratch space is reused)', () => {
    const a = readJsonInstances(Buffer.from('{"instances":[[[1],[2]]]}'), shape, 4)!;
    const b = readJsonInstances(Buffer.from('{"instances":[[[3],[4]]]}'), shape, 4)!;
    expect(Array.from(a.data)).toEqual([1, 2]);
    expect(Array.from(b.data)).toEqual([3, 4]);
    expect(a.data.buffer).not.toBe(b.data.buffer);
    expect(a.data.byteLength).toBe(a.data.buffer.byteLength);
    // A body too large for the kept scratch space (over 2^20 floats) is read into its own.
    const wide = [1024];
    const rows = Array.from({ length: 1100 }, (_, r) => Array.from({ length: 1024 }, (_, k) => (r * 1024 + k) % 7));
    const big = readJsonInstances(Buffer.from(JSON.stringify({ instances: rows })), wide, 2000)!;
    expect(big.rows).toBe(1100);
    expect(Array.from(big.data)).toEqual(rows.flat());
    const small = readJsonInstances(Buffer.from('{"instances":[[[5],[6]]]}'), shape, 4)!;
    expect(Array.from(small.data)).toEqual([5, 6]);
  });
});
