import { describe, expect, it } from 'vitest';
import { checkHistory, crashRun, PHASES, referenceRun } from './crash-harness.js';

// A real `flock coordinator` process on a SQLite file is SIGKILLed once in every phase of a
// training round (selection, collection, aggregation, right after the commit) and restarted on
// the same port; real SDK clients reconnect by themselves. The durable history must have no
// lost or doubled commit, and the seeded run must end with the model an uninterrupted run ends with.
describe('crash-resume', () => {
  it('a coordinator killed once per round phase resumes: consecutive versions, each committed once, same final model', async () => {
    const rounds = 3;
    const reference = await referenceRun(rounds);
    const run = await crashRun(rounds, PHASES);
    expect(run.kills.map((k) => k.phase)).toEqual([...PHASES]);
    expect(checkHistory(run, rounds)).toEqual([]);
    // Each kill but the one right after a commit cut a running round off (selection kills may hit before it is recorded).
    const abandoned = run.rounds.filter((r) => r.status === 'abandoned').length;
    expect(abandoned).toBeGreaterThanOrEqual(2);
    expect(run.restartLogs).toBe(PHASES.length);
    expect(run.initialHash).toBe(reference.initialHash);
    expect(run.finalHash).toBe(reference.finalHash);
  }, 120_000);
});
