import { describe, expect, it } from 'vitest';
import { nodePlatform } from '../platform/node.js';
import { expandMask } from './prg.js';
import { addInto } from './ring.js';
import { secAggParameters } from './params.js';
import { simulateSecAggRound } from './simulate.js';

describe('SecAgg+ at n = 100 (slow)', () => {
  const n = 100;
  const m = 100_000;
  const ids = Array.from({ length: n }, (_, i) => `client-${String(i).padStart(3, '0')}`);
  const seedOf = (id: string): Uint8Array => {
    const s = new Uint8Array(32);
    s.set(new TextEncoder().encode(id).subarray(0, 32));
    return s;
  };
  const input = (id: string): Promise<Uint32Array> => expandMask(nodePlatform, seedOf(id), m);
  for (const graph of ['full', 16] as const) {
    it(`graph ${graph}: exact with ${graph === 'full' ? 20 : 5} dropouts after sharing keys`, async () => {
      const p = secAggParameters({ cohortSize: n, k: graph === 'full' ? n - 1 : graph });
      const dropped = graph === 'full' ? ids.filter((_, i) => i % 5 === 0) : [ids[0]!];
      const r = await simulateSecAggRound({
        session: 'slow', round: 1, ids, k: p.k, t: p.t, vectorLength: m, platform: nodePlatform, input,
        drop: { maskedInput: dropped },
      });
      const expected = new Uint32Array(m);
      for (const id of ids) if (!dropped.includes(id)) addInto(expected, await input(id));
      expect(r.sum).toEqual(expected);
    });
  }
});
