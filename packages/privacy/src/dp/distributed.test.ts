import { describe, expect, it } from 'vitest';
import { planNoise } from './distributed.js';

describe('noise calibration per mode', () => {
  it('central: the server adds sigma*C', () => {
    const p = planNoise({ mode: 'central', noiseMultiplier: 1.1, clip: 2 });
    expect(p).toMatchObject({ clientStddev: 0, serverStddev: 2.2, targetStddev: 2.2 });
    expect(p.totalStddev(50)).toBeCloseTo(2.2, 15);
  });

  it('distributed: t survivors give exactly sigma*C; more give more, never less', () => {
    const p = planNoise({ mode: 'distributed', noiseMultiplier: 1.1, clip: 2, minSurvivors: 16, scale: 1000 });
    expect(p.clientDiscrete).toBe(true);
    expect(p.serverStddev).toBe(0);
    expect(p.clientStddev).toBeCloseTo((1.1 * 2 * 1000) / 4, 10);
    // Sum of t client variances, back in model units:
    expect(Math.sqrt(16 * p.clientStddev ** 2) / 1000).toBeCloseTo(2.2, 12);
    expect(p.totalStddev(16)).toBeCloseTo(2.2, 12);
    expect(p.totalStddev(25)).toBeCloseTo(2.2 * 1.25, 12);
    expect(() => p.totalStddev(15)).toThrow(/survivors/);
  });

  it('local: every client adds the full noise', () => {
    const p = planNoise({ mode: 'local', noiseMultiplier: 1, clip: 3 });
    expect(p).toMatchObject({ clientStddev: 3, serverStddev: 0, clientDiscrete: false });
    expect(p.totalStddev(4)).toBeCloseTo(6, 14);
  });

  it('validates inputs', () => {
    expect(() => planNoise({ mode: 'bogus' as 'local', noiseMultiplier: 1, clip: 1 })).toThrow(/mode/);
    expect(() => planNoise({ mode: 'distributed', noiseMultiplier: 1, clip: 1, scale: 10 })).toThrow(/minSurvivors/);
    expect(() => planNoise({ mode: 'distributed', noiseMultiplier: 1, clip: 1, minSurvivors: 3 })).toThrow(/scale/);
    expect(() => planNoise({ mode: 'central', noiseMultiplier: -1, clip: 1 })).toThrow(/noiseMultiplier/);
  });
});
