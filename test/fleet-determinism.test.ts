import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { flock } from './flock-process.js';
import { fleetBinaries } from './fleet-redis.js';
import { clusterTestHooks } from './fleet-cluster.js';
import { expectSameFederation, runFleet, type DeterministicFederation } from './fleet-determinism-harness.js';

const { cleanups, track } = clusterTestHooks();

/** Small and quick: logreg, 4 clients, 3 rounds (the long variant: fleet-determinism.slow.test.ts). */
const FEDERATION: DeterministicFederation = { rounds: 3, clients: 4, preset: 'logreg' };

// Processes killed with SIGKILL mid-federation: redis-server, three node processes, nginx, SDK clients.
describe.skipIf(!fleetBinaries({ nginx: true }))('fleet: deterministic mode survives kill -9 of the leader (behind nginx)', () => {
  it('kill -9 the leader mid-round: the final model hash equals an uninterrupted deterministic run, versions consecutive and each committed once', async () => {
    const calm = await runFleet(FEDERATION, [], cleanups, track);
    // Tear the first fleet down (cleanups run newest first) before the second one starts.
    for (const c of cleanups.splice(0).reverse()) await c();
    // The leader is killed while the round training version 1 -> 2 runs.
    const chaos = await runFleet(FEDERATION, [1], cleanups, track);
    expectSameFederation(calm, chaos, FEDERATION, [1]);
  });
});

// No Redis needed: the refusals come before the node would use it.
describe('flock coordinator --redis: configurations a fleet refuses', () => {
  const refused = async (args: string[], config: Record<string, unknown> = {}): Promise<string> => {
    const dir = mkdtempSync(path.join(tmpdir(), 'flock-fleet-refuse-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    const p = flock(['coordinator', '--config', path.join(dir, 'config.json'), '--redis', 'redis://127.0.0.1:9', '--open', '--port', '0', '--data-dir', dir, '--log', 'json', ...args]);
    // A usage error (exit 2), and the process ends: no Redis connection is left reconnecting.
    expect(await p.exited()).toBe(2);
    return p.stderr.join('\n');
  };

  it('refuses a strategy with server state in deterministic mode, differential privacy without a shared database, and exits even after a refusal from the coordinator itself', async () => {
    const [stateful, dpInClear, exactSecure, dpWithoutSharedStore] = await Promise.all([
      refused(['--deterministic', '--strategy', 'fedavgm']),
      refused(['--dp', 'central', '--noise-multiplier', '1', '--clip', '1']),
      refused(['--deterministic'], { secureAggregation: { enabled: true } }),
      refused(['--dp', 'distributed', '--noise-multiplier', '1', '--clip', '1'], { secureAggregation: { enabled: true } }),
    ]);
    // A store per node: a new leader would account epsilon from its own stale copy.
    expect(dpWithoutSharedStore).toMatch(/--redis: a fleet runs differential privacy with one shared PostgreSQL database only \(--postgres\)/);
    expect(stateful).toMatch(/strategy fedavgm keeps server state .* deterministic mode runs stateless strategies only/);
    // Refused by the member after the node was created: before, its Redis connection kept the process alive.
    expect(dpInClear).toMatch(/--redis: a fleet runs differential privacy only under secure aggregation/);
    // Group sums are merged in float64: not reproducible bit for bit, so refused.
    expect(exactSecure).toMatch(/deterministic mode without secure aggregation only/);
  });
});
