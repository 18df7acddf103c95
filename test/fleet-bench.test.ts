// `flock bench fleet` in miniature: the load generator's clients are real (tokens, signed
// handshakes, sealed chunked uploads over socket.io) and every accepted update must be counted
// once in the commit. Counts only: timings live in the benchmark's JSON lines, never here.
import { describe, expect, it } from 'vitest';
import { runFleetConfiguration } from '../packages/cli/src/bench/fleet.js';
import { runIngestPath } from '../packages/cli/src/bench/fleet-ingest.js';
import { FLOOR_TRANSPORTS, runTransportFloor } from '../packages/cli/src/bench/fleet-transport.js';
import { fleetBinaries } from './fleet-redis.js';

describe('flock bench fleet', () => {
  it('40 authenticated load-generator clients in 2 processes: one round commits every update once, none refused', async () => {
    const line = await runFleetConfiguration(40, { model: 'logreg', rounds: 2, generators: 2, timeoutMs: 60_000 });
    expect(line).toMatchObject({ bench: 'fleet', nodes: 1, clients: 40, numParams: 7850, sealing: 'x25519-hkdf-sha256-aes-256-gcm', status: 'committed', reported: 40, rejected: 0, lost: 0 });
    expect(line.peakRssMiBPerNode).toBeGreaterThan(0);
    expect(line.sealedBytesPerNodeCpuSecond).toBeGreaterThan(0);
  }, 120_000);

  it('the legacy suite as the in-run baseline (--sealing nacl) and a synthetic model (--params): the node accepts only the suite under test, and every update counts once', async () => {
    const line = await runFleetConfiguration(20, { model: 'logreg', rounds: 1, generators: 2, timeoutMs: 60_000, sealing: 'nacl', params: 70_000 });
    expect(line).toMatchObject({ clients: 20, numParams: 70_000, model: 'synthetic-70000', sealing: 'x25519-xsalsa20-poly1305', status: 'committed', reported: 20, rejected: 0, lost: 0 });
  }, 120_000);

  it.skipIf(!fleetBinaries())('--nodes 3 with 300 clients: a fleet on a private redis-server, each generator on its own node; the leader commits every client of every node once, and every node reports its own cost', async () => {
    const line = await runFleetConfiguration(300, { model: 'logreg', rounds: 1, generators: 2, timeoutMs: 90_000, nodes: 3 });
    expect(line).toMatchObject({ bench: 'fleet', nodes: 3, clients: 300, status: 'committed', reported: 300, rejected: 0, lost: 0, generators: 3 });
    // Three nodes, three samples: the followers' CPU is counted, not only the leader's.
    expect(line.cpuSecondsEachNode).toHaveLength(3);
    for (const cpu of line.cpuSecondsEachNode as number[]) expect(cpu).toBeGreaterThan(0);
  }, 120_000);

  it('the ingest-path lines: the receiver opens, checks and aggregates every pre-sealed upload of both suites, two rounds of the same sessions', async () => {
    for (const suite of ['x25519-hkdf-sha256-aes-256-gcm', 'x25519-xsalsa20-poly1305'] as const) {
      const line = await runIngestPath(3000, suite, 3, 1024);
      expect(line).toMatchObject({ bench: 'fleet-ingest', sealing: suite, numParams: 3000, uploads: 3 });
      expect(line.sealedMBPerCpuSecond).toBeGreaterThan(0);
    }
  });

  it('the transport floor lines: on websocket, socket.io and HTTP the receiver counts every timed message whole, and the ceiling combines it with the ingest figure', async () => {
    for (const transport of FLOOR_TRANSPORTS) {
      const line = await runTransportFloor(transport, { numParams: 5000, chunkBytes: 8192, suite: 'x25519-hkdf-sha256-aes-256-gcm', ingestMBPerCpuSecond: 100, messages: 300 });
      // The first sealed chunk of a 20,000-byte update in 8 KiB chunks: 8192 + the 16-byte tag.
      expect(line).toMatchObject({ bench: 'fleet-transport', transport, messageBytes: 8208, messages: 300, receivedBytes: 300 * 8208 });
      expect(line.receivedMBPerCpuSecond).toBeGreaterThan(0);
      expect(line.ceilingMBPerNodeCpuSecond).toBeLessThan(100);
    }
  }, 120_000);
});
