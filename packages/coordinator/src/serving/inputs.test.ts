import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { flattenFast, parseBinaryShape, parseJsonInstances, predictBodySchema } from './inputs.js';

const shape = [2, 3];

// Values near the shape: right and wrong lengths, numbers, non-finite numbers, strings, nulls.
const leaf = fc.oneof(
  { weight: 40, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.constantFrom(Infinity, -Infinity, NaN) },
  { weight: 1, arbitrary: fc.string({ maxLength: 2 }) },
  { weight: 1, arbitrary: fc.constant(null) },
);
const row = fc.oneof({ weight: 5, arbitrary: fc.array(leaf, { minLength: 3, maxLength: 3 }) }, { weight: 1, arbitrary: fc.array(leaf, { maxLength: 4 }) }, { weight: 1, arbitrary: leaf });
const instance = fc.oneof({ weight: 5, arbitrary: fc.array(row, { minLength: 2, maxLength: 2 }) }, { weight: 1, arbitrary: fc.array(row, { maxLength: 3 }) }, { weight: 1, arbitrary: leaf });
const list = fc.array(instance, { maxLength: 5 });
const body = fc.oneof(
  list.map((instances) => ({ instances })),
  list.map((inputs) => ({ inputs })),
  fc.record({ instances: list, signature_name: fc.oneof(fc.string({ maxLength: 3 }), fc.integer()) }),
  fc.record({ instances: list, inputs: list }),
  fc.record({ instances: list, extra: fc.integer() }),
  fc.anything(),
);

describe('predict input validation', () => {
  it('the one-pass fast path accepts exactly what the zod schema accepts, with the same values', () => {
    let accepted = 0;
    fc.assert(
      fc.property(body, (b) => {
        const fast = flattenFast(b, shape, 4);
        const schema = predictBodySchema(shape, 4).safeParse(b).success;
        if (schema) accepted++;
        expect(fast !== undefined).toBe(schema);
        if (fast) expect(Array.from(fast.data)).toEqual(Array.from(parseJsonInstances(structuredClone(b), shape, 4).data));
      }),
      { numRuns: 3000 },
    );
    // Both outcomes were exercised.
    expect(accepted).toBeGreaterThan(20);
    expect(accepted).toBeLessThan(2900);
  });

  it('names the expected shape, refuses non-finite values and oversize batches with typed errors', () => {
    expect(() => parseJsonInstances({ instances: [[[1, 2, 3]]] }, shape, 4)).toThrow(expect.objectContaining({ code: 'WRONG_SHAPE', details: expect.objectContaining({ expectedShape: shape }) }));
    expect(() => parseJsonInstances({ instances: [[[1, 2, Infinity], [1, 2, 3]]] }, shape, 4)).toThrow(expect.objectContaining({ code: 'NON_FINITE' }));
    expect(() => parseJsonInstances({ instances: Array(5).fill([[1, 2, 3], [1, 2, 3]]) }, shape, 4)).toThrow(expect.objectContaining({ code: 'PAYLOAD_TOO_LARGE' }));
    expect(() => parseJsonInstances({ rows: [] }, shape, 4)).toThrow(expect.objectContaining({ code: 'BAD_MESSAGE' }));
    expect(parseBinaryShape('3,2,3', shape, 4)).toBe(3);
    expect(() => parseBinaryShape('3,3,2', shape, 4)).toThrow(expect.objectContaining({ code: 'WRONG_SHAPE' }));
    expect(() => parseBinaryShape(undefined, shape, 4)).toThrow(expect.objectContaining({ code: 'WRONG_SHAPE' }));
  });
});
