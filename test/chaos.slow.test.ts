import { describe, expect, it } from 'vitest';
import { checkHistory, crashRun, PHASES, referenceRun, type Phase } from './crash-harness.js';

// Chaos: the crash-resume test with at least 5 SIGKILLs in every round phase, interleaved.
describe('chaos (slow)', () => {
  it('a coordinator killed 5 times in every phase still commits each round exactly once and ends with the uninterrupted model', async () => {
    const killsPerPhase = 5;
    const schedule: Phase[] = [];
    for (let i = 0; i < killsPerPhase; i++) schedule.push(...PHASES);
    // Only the post-commit kills let a round through; two more rounds finish after the last kill.
    const rounds = killsPerPhase + 2;
    const reference = await referenceRun(rounds);
    const run = await crashRun(rounds, schedule);
    expect(run.kills).toHaveLength(PHASES.length * killsPerPhase);
    for (const p of PHASES) expect(run.kills.filter((k) => k.phase === p)).toHaveLength(killsPerPhase);
    expect(checkHistory(run, rounds)).toEqual([]);
    expect(run.restartLogs).toBe(schedule.length);
    expect(run.finalHash).toBe(reference.finalHash);
  }, 900_000);
});
