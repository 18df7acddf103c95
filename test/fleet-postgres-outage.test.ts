import { describe, expect, it } from 'vitest';
import { flock } from './flock-process.js';
import { fleetBinaries } from './fleet-redis.js';
import { startClients } from './fleet-cluster.js';
import { pgHistory, startPgCluster, pgClusterTestHooks } from './fleet-pg-cluster.js';
import { startThrowawayPostgres, throwawayPostgresSkip } from './pg-instance.js';

const { cleanups, track } = pgClusterTestHooks();
const pgSkip = throwawayPostgresSkip();
if (pgSkip && process.env.FLOCK_REQUIRE_POSTGRES === '1') throw new Error(`FLOCK_REQUIRE_POSTGRES=1 but a throwaway PostgreSQL cannot run here: ${pgSkip}`);
const skip = pgSkip ?? (fleetBinaries({ nginx: true }) ? undefined : 'redis-server or nginx missing');

// A PostgreSQL server of the test's own, really stopped (pg_ctl -m immediate: every connection
// cut, like a crash) and started again while round 2 runs; two `flock coordinator --redis
// --postgres` nodes behind nginx, SDK clients.
describe.skipIf(skip !== undefined)(`fleet: PostgreSQL restarted mid-round${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('recovers without an operator: the cut round commits or ends typed (STORE_UNAVAILABLE), the next rounds commit, each version once, consecutive', async () => {
    const server = await startThrowawayPostgres();
    cleanups.push(() => server.dispose());
    const cluster = track(await startPgCluster(2, server.url, ['--open', '--min-clients', '4', '--rounds', '3', '--timeout', '20', '--lease', '2'], cleanups, { nginx: true }));
    const clients = await startClients(cluster.nginx!.url, 4, cleanups);
    let cut: Promise<void> | undefined;
    for (const cl of clients) {
      cl.on('round:start', (s) => {
        if (cut || s.round !== 2) return;
        cut = (async () => {
          await server.stop();
          await new Promise((r) => setTimeout(r, 1500));
          await server.start();
        })();
      });
    }
    await Promise.all(clients.map((c) => c.start()));
    const done = await Promise.any(cluster.nodes.map((n) => n.proc.waitFor((l) => l.event === 'done', 120_000).then((l) => ({ n, l }))));
    expect(cut).toBeDefined();
    await cut;
    expect(done.l.modelVersion).toBe(3);
    // Nobody crashed: both nodes still run.
    for (const n of cluster.nodes) expect(n.proc.child.exitCode).toBeNull();
    const rounds = cluster.nodes.flatMap((n) => n.proc.lines.filter((l) => l.event === 'round'));
    expect(rounds.filter((l) => l.status === 'committed').map((l) => Number(l.modelVersion)).sort()).toEqual([1, 2, 3]);
    expect(rounds.every((l) => l.status === 'committed' || l.status === 'abandoned')).toBe(true);
    // PostgreSQL, back: each version once, consecutive, each committed by one round; the rows of
    // rounds that ended while it was away were ended once it came back (none left running).
    const h = await pgHistory(cluster.pgUrl);
    expect(h.versions).toEqual([0, 1, 2, 3]);
    expect(h.rounds.filter((r) => r.status === 'committed').map((r) => r.committed_version)).toEqual([1, 2, 3]);
    expect(h.rounds.filter((r) => r.status === 'running')).toEqual([]);
    for (const r of h.rounds.filter((x) => x.status === 'abandoned')) {
      expect(['STORE_UNAVAILABLE', 'ROUND_ABANDONED', 'TOO_FEW_REPORTS']).toContain((JSON.parse(r.reason!) as { code: string }).code);
    }
    // The nodes took their (shared) coordinator lock again after the restart: a single
    // coordinator on the same database is still refused.
    const single = flock(['coordinator', '--postgres', cluster.pgUrl, '--open', '--port', '0', '--data-dir', `${cluster.dir}/single`, '--log', 'json']);
    cleanups.push(() => void single.child.kill('SIGKILL'));
    // waitFor rejects when the process exits before listening.
    const started = await single.waitFor((l) => l.event === 'listening', 60_000).then(
      () => true,
      () => false,
    );
    expect(started).toBe(false);
    expect(await single.exited()).toBe(1);
    expect(single.stderr.join('\n')).toContain('STORE_LOCKED');
  });
});
