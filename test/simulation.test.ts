import { describe, expect, it } from 'vitest';
import { runSimulation } from '@flock/sim';

const base = { clients: 4, rounds: 2, partition: 'dirichlet:0.5', model: 'mlp' as const, trainLimit: 2000, testLimit: 500, workers: 1 };

describe('reproducible simulations', () => {
  it('the same seed gives the same final model hash; another seed gives another', async () => {
    const a = await runSimulation({ ...base, seed: 11 });
    const b = await runSimulation({ ...base, seed: 11 });
    const c = await runSimulation({ ...base, seed: 12 });
    expect(a.summary.modelHash).toBe(b.summary.modelHash);
    expect(a.history.map((r) => r.accuracy)).toEqual(b.history.map((r) => r.accuracy));
    expect(c.summary.modelHash).not.toBe(a.summary.modelHash);
    // Per-round records carry the traffic of the round.
    expect(a.history[0]!.bytesUp).toBe(4 * 199_210 * 4);
    expect(a.history[0]!.bytesDown).toBe(4 * 199_210 * 4);
    expect(a.history[0]!.dropouts).toBe(0);
  });

  it('worker threads give the same model as the main thread', async () => {
    const one = await runSimulation({ ...base, seed: 5, workers: 1 });
    const two = await runSimulation({ ...base, seed: 5, workers: 2 });
    expect(two.summary.workers).toBe(2);
    expect(two.summary.modelHash).toBe(one.summary.modelHash);
  });
});
