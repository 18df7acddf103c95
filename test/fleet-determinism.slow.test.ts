import { describe, it } from 'vitest';
import { fleetBinaries } from './fleet-redis.js';
import { clusterTestHooks } from './fleet-cluster.js';
import { expectSameFederation, runFleet, type DeterministicFederation } from './fleet-determinism-harness.js';

const { cleanups, track } = clusterTestHooks();

/** Longer than the default-suite variant: the mlp preset, 6 clients, 6 rounds, two leaders killed. */
const FEDERATION: DeterministicFederation = { rounds: 6, clients: 6, preset: 'mlp' };
const KILL_AT = [1, 3];

describe.skipIf(!fleetBinaries({ nginx: true }))('fleet: deterministic mode survives two leader kills (behind nginx, slow)', () => {
  it('kill -9 the leader twice (rounds training versions 2 and 4): same versions and hashes as an uninterrupted run', async () => {
    const calm = await runFleet(FEDERATION, [], cleanups, track);
    for (const c of cleanups.splice(0).reverse()) await c();
    const chaos = await runFleet(FEDERATION, KILL_AT, cleanups, track);
    expectSameFederation(calm, chaos, FEDERATION, KILL_AT);
  });
});
