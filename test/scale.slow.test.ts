import { describe, expect, it } from 'vitest';
import { runSimulation } from '@flock/sim';

describe('scale', () => {
  it('1000 virtual clients (real SDK clients over loopback) complete 3 rounds in bounded memory', async () => {
    const { summary, history } = await runSimulation({ clients: 1000, rounds: 3, partition: 'iid', seed: 1, model: 'logreg', fraction: 0.1, workers: 1, learningRate: 0.1, batchSize: 16 });
    expect(history).toHaveLength(3);
    expect(history.every((r) => r.participants === 100)).toBe(true);
    expect(summary.peakRssMiB).toBeGreaterThan(0);
    expect(summary.peakRssMiB).toBeLessThan(4096);
    console.log(JSON.stringify({ clients: 1000, rounds: 3, peakRssMiB: summary.peakRssMiB, wallSeconds: summary.wallSeconds, accuracy: summary.accuracy }));
  });
});
