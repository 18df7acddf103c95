import { describe, expect, it } from 'vitest';
import { DelayPlan, runSimulation, summarizeRoundDelays } from '@flock/sim';

const idOf = (i: number) => `client-${String(i).padStart(5, '0')}`;

describe('injected delays in a simulation', () => {
  it('a straggler beyond the deadline misses its rounds while the others commit; metrics record it', async () => {
    const clients = 3;
    const seed = 4;
    // One of three clients needs ten extra minutes per round: far beyond the 8 s deadline.
    const straggler = 'fixed:600s,frac=0.34';
    // Fast links: the transfer time is tiny, but the download and upload go through the limiter.
    const bandwidth = 'up=100mbit,down=100mbit';
    const plan = new DelayPlan({ seed, numClients: clients, straggler, bandwidth });
    expect(plan.stragglers.size).toBe(1);
    const [slow] = [...plan.stragglers];
    const result = await runSimulation({
      clients,
      rounds: 2,
      partition: 'iid',
      seed,
      model: 'logreg',
      trainLimit: 300,
      testLimit: 100,
      workers: 1,
      straggler,
      bandwidth,
      // Generous for a loaded machine: the two other clients train 100 examples each.
      roundTimeoutMs: 8000,
      keepServing: true,
    });
    const coordinator = result.coordinator!;
    try {
      const rounds = coordinator.rounds.filter((r) => r.kind === 'train' && r.status === 'committed');
      expect(rounds).toHaveLength(2);
      const others = [0, 1, 2].filter((i) => i !== slow).map(idOf);
      for (const r of rounds) {
        expect(r.selected).toContain(idOf(slow!));
        expect(r.reporters).not.toContain(idOf(slow!));
        expect([...r.reporters].sort()).toEqual(others);
      }
      expect(result.summary.straggler).toBe('fixed:ms=600000ms,frac=0.34');
      expect(result.summary.bandwidth).toBe('up=100mbit,down=100mbit');
      const modelBytes = 7850 * 4; // logreg: 7,850 float32 parameters, down and up
      result.history.forEach((h, k) => {
        expect(h).toMatchObject({ participants: 2, dropouts: 1, stragglers: 1, late: 1 });
        const expected = summarizeRoundDelays(plan, rounds[k]!.round, [0, 1, 2], new Set([0, 1, 2].filter((i) => i !== slow)), modelBytes);
        expect(h.meanDelayMs).toBe(expected.meanDelayMs);
        expect(h.meanDelayMs).toBeGreaterThan(200_000); // 600 s / 3 clients, plus the transfers
      });
    } finally {
      await coordinator.close();
    }
  }, 300_000);
});
