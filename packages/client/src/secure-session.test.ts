import { describe, expect, it } from 'vitest';
import type { Socket } from 'socket.io-client';
import { generateIdentityKeyPair, planDpQuantization } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { FlockError, type RoundStart, type SecAggConfig } from '@flock/protocol';
import { SecureSession } from './secure-session.js';

// The checks a client makes on round:start.secagg.dp before it encodes anything
// (protocol/secagg.md 4.5). The constructor does not touch the socket.
const d = 1000;
const plan = planDpQuantization({ clip: 0.5, dimension: d, cohort: 10, minSurvivors: 7, noiseMultiplier: 1, distributed: true });
const cfg: SecAggConfig = {
  session: 's',
  k: 9,
  t: 7,
  vectorLength: d,
  clip: 0.5,
  nMax: 10,
  weightCap: 10_000,
  dp: { clip: 0.5, scale: plan.scale, bound: plan.bound },
  deadlinesMs: { advertiseKeys: 1000, shareKeys: 1000, maskedInput: 1000, unmask: 1000 },
};
const start = (mode: 'central' | 'distributed' | 'local', secagg: SecAggConfig): RoundStart => ({
  roundId: '1-abc',
  round: 1,
  kind: 'train',
  modelVersion: 0,
  modelHash: '0'.repeat(64),
  modelPath: '/v1/models/0',
  deadline: 0,
  timeoutMs: 1000,
  config: { epochs: 1, batchSize: 1, learningRate: 0.1, privacy: { mode, clip: 0.5, noiseMultiplier: 1 } },
  secagg,
});
const identity = generateIdentityKeyPair(nodePlatform);
const session = (mode: 'central' | 'distributed' | 'local', secagg: SecAggConfig): SecureSession =>
  new SecureSession(null as unknown as Socket, start(mode, secagg), secagg, 'c1', identity, nodePlatform, undefined);
const code = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return e instanceof FlockError ? e.code : String(e);
  }
  return undefined;
};

describe('SecureSession under differential privacy (secagg.md 4.5)', () => {
  it('a client refuses a central or distributed DP round without secagg.dp, or whose bound or clip does not match', () => {
    expect(code(() => session('distributed', cfg))).toBeUndefined();
    expect(code(() => session('central', cfg))).toBeUndefined();
    const { dp: _dp, ...noDp } = cfg;
    expect(code(() => session('distributed', noDp))).toBe('DP_UNAVAILABLE');
    expect(code(() => session('central', noDp))).toBe('DP_UNAVAILABLE');
    // A coordinator that understates the bound (less noise per client) is refused.
    expect(code(() => session('distributed', { ...cfg, dp: { ...cfg.dp!, bound: cfg.dp!.bound * 0.9 } }))).toBe('DP_UNAVAILABLE');
    expect(code(() => session('distributed', { ...cfg, dp: { ...cfg.dp!, clip: 0.25 } }))).toBe('DP_UNAVAILABLE');
    // Local mode keeps the weighted encoding (its noise is in the update already).
    expect(code(() => session('local', noDp))).toBeUndefined();
  });
});

// Grouped SecAgg+ across fleet nodes (docs/explanation/fleet.md): the noise share is calibrated
// to the whole cohort's survivors (secagg.dp.summands), not to the group's own t.
describe('noiseSummands', () => {
  it('is dp.summands when the round carries it, else t', async () => {
    const { noiseSummands } = await import('./secure-session.js');
    const { secAggConfigSchema } = await import('@flock/protocol');
    expect(noiseSummands(cfg)).toBe(7);
    const grouped = { ...cfg, dp: { ...cfg.dp!, summands: 700 } };
    expect(noiseSummands(secAggConfigSchema.parse(grouped))).toBe(700);
    // A cohort smaller than this group's own threshold is refused by the schema.
    expect(secAggConfigSchema.safeParse({ ...cfg, dp: { ...cfg.dp!, summands: 6 } }).success).toBe(false);
    expect(secAggConfigSchema.safeParse({ ...cfg, dp: { ...cfg.dp!, summands: 7.5 } }).success).toBe(false);
  });
});
