/**
 * `flock bench fleet`: how many concurrent authenticated clients one coordinator node holds,
 * and how fast it ingests their sealed updates (issue #15, "measure first"). The node runs in
 * its own process; lightweight protocol clients (fleet-load.ts: real socket.io, tokens,
 * challenge-signed handshakes, sealed chunked uploads; no tfjs) run in separate load-generator
 * processes, all on 127.0.0.1. Bounded in count (--clients) and in time (the round timeout).
 *
 * One JSON line per configuration (client count x sealing suite):
 *   {nodes, clients, numParams, sealing, connectSeconds, roundSeconds, updatesPerSecond,
 *    ingestBytesPerSecond, sealedBytesPerNodeCpuSecond, peakRssMiBPerNode, cpuSecondsPerUpdate,
 *    rejected, lost, ...}
 * `ingestBytesPerSecond` is update payload (plaintext bytes) per wall second of the round;
 * `sealedBytesPerNodeCpuSecond` is sealed bytes received (payload + per-chunk overhead) per
 * CPU second of the node process: on a machine whose cores the load generators share, the wall
 * rate measures the generators too, the CPU rate what one node process costs.
 * `lost` counts clients whose accepted upload was not in the committed round (must be 0);
 * `rejected` counts uploads the coordinator refused (with their codes).
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { ModelPreset } from '@flock/model';
import { DEFAULT_CHUNK_BYTES, chunkCount } from '@flock/protocol';
import { generateIdentityKeyPair, SEAL_SUITE_AEAD, SEAL_SUITE_LEGACY, SEAL_SUITE_OVERHEAD, type SealSuite } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { machineInfo } from './machine.js';
import { child, waitForMessage } from './fleet-child.js';
import type { FleetNodeInit, FleetNodeMessage, FleetNodeSampleRequest } from './fleet-node.js';
import { benchRedis } from './redis-server.js';
import type { FleetLoadInit, FleetLoadMessage } from './fleet-load.js';

export interface FleetBenchOptions {
  quick?: boolean;
  /** Client counts, one configuration each. */
  clients?: number[];
  model?: ModelPreset;
  rounds?: number;
  /** Load-generator processes (default: 2, one per core here). */
  generators?: number;
  timeoutMs?: number;
  /** Sealing suites, one configuration each (default: the AES-256-GCM suite only). */
  sealing?: FleetSealing[];
  /** A synthetic model of this many float32 parameters instead of `model` (e.g. 100000). */
  params?: number;
  /** The node's `uploads.chunkBytes` (default 1 MiB, the coordinator default). */
  chunkBytes?: number;
  /** Node counts, one configuration each (default [1]); more than one runs a fleet on Redis. */
  nodes?: number[];
  /** An existing Redis for fleets (default: a private redis-server per configuration). */
  redisUrl?: string;
}

export type FleetSealing = 'aes' | 'nacl';
const SUITE_OF: Record<FleetSealing, SealSuite> = { aes: SEAL_SUITE_AEAD, nacl: SEAL_SUITE_LEGACY };

/** The open-files limit children get: Node cannot raise its own, so each child starts under `ulimit -n`. */
function openFilesLimit(): { soft: number; hard: number } {
  try {
    const [soft, hard] = execFileSync('bash', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' }).trim().split('\n');
    const n = (s: string | undefined): number => (s === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(s));
    return { soft: n(soft), hard: n(hard) };
  } catch {
    return { soft: 1024, hard: 1024 };
  }
}

/** Splits `n` items into `k` near-equal consecutive shares (sizes). */
const shares = (n: number, k: number): number[] => Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));

type ConfigurationOptions = Required<Omit<FleetBenchOptions, 'quick' | 'clients' | 'sealing' | 'params' | 'chunkBytes' | 'nodes' | 'redisUrl'>> & { sealing?: FleetSealing; params?: number; chunkBytes?: number; nodes?: number; redisUrl?: string };

/**
 * One configuration: `nodes` coordinator nodes (a fleet on Redis when more than one, each
 * load generator talking to one node directly, as clients behind a balancer would), `clients`
 * load-generator clients split evenly over the nodes, `rounds` rounds.
 */
export async function runFleetConfiguration(clients: number, o: ConfigurationOptions): Promise<Record<string, unknown>> {
  const suite = SUITE_OF[o.sealing ?? 'aes'];
  const chunkBytes = o.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const nodeCount = Math.max(1, Math.min(o.nodes ?? 1, clients));
  const limit = openFilesLimit();
  // One socket per client on the node, plus headroom for files, the challenge HTTP requests and pipes.
  const nofile = Math.min(limit.hard, Math.max(limit.soft, clients + 4096));
  const procs: ChildProcess[] = [];
  const redis = nodeCount > 1 ? await benchRedis(o.redisUrl) : undefined;
  try {
    // Every node of a fleet signs with one coordinator key (clients pin it).
    const signingSecretKey = redis ? Buffer.from(generateIdentityKeyPair(nodePlatform).secretKey).toString('hex') : undefined;
    const rounds: Array<Extract<FleetNodeMessage, { type: 'round' }>> = [];
    const nodes = shares(clients, nodeCount).map((own, k) => {
      const fleet = redis ? { fleet: { redisUrl: redis.url, nodeId: `bench-${k}`, leaseMs: 5_000, totalClients: clients }, signingSecretKey } : {};
      const node = child<FleetNodeInit, FleetNodeMessage>('fleet-node', nofile, { clients: own, model: o.model, rounds: o.rounds, roundTimeoutMs: o.timeoutMs, sealSuites: [suite], chunkBytes, ...(o.params ? { params: o.params } : {}), ...fleet }, () => {});
      procs.push(node);
      // In a fleet only the leader (whichever node holds the lease) reports rounds.
      node.on('message', (m: FleetNodeMessage) => m.type === 'round' && rounds.push(m));
      return node;
    });
    const allRounds = Promise.race(nodes.map((node) => waitForMessage<FleetNodeMessage>(node, () => rounds.length >= o.rounds, `${o.rounds} round(s)`, o.timeoutMs * (o.rounds + 1) + 120_000)));
    allRounds.catch(() => {});
    const readies = (await Promise.all(nodes.map((node, k) => waitForMessage<FleetNodeMessage>(node, (m) => m.type === 'ready', `coordinator node ${k}`, 120_000)))) as Array<Extract<FleetNodeMessage, { type: 'ready' }>>;
    const nodesConnected = Promise.all(nodes.map((node, k) => waitForMessage<FleetNodeMessage>(node, (m) => m.type === 'connected', `node ${k}'s ${readies[k]!.tokens.length} connections`, o.timeoutMs)));
    nodesConnected.catch(() => {});
    // At least one generator per node; each serves one node's clients.
    const generators = Math.min(Math.max(o.generators, nodeCount), clients);
    const uploads: Array<Extract<FleetLoadMessage, { type: 'uploads' }>> = [];
    const t0 = Date.now();
    const loads = Array.from({ length: generators }, (_, g) => {
      const k = g % nodeCount;
      const mates = Math.floor((generators - 1 - k) / nodeCount) + 1;
      const ready = readies[k]!;
      const tokens = ready.tokens.filter((_, i) => i % mates === Math.floor(g / nodeCount));
      const p = child<FleetLoadInit, FleetLoadMessage>('fleet-load', nofile, { url: ready.url, tokens, numParams: ready.numParams, connectConcurrency: 64, uploadConcurrency: 256, suites: [suite] }, (m) => {
        if (m.type === 'uploads') uploads.push(m);
        if (m.type === 'error') console.error(`fleet bench: load generator ${g}: ${m.message}`);
      });
      procs.push(p);
      return { p, tokens: tokens.length };
    });
    const connected = (await nodesConnected) as Array<Extract<FleetNodeMessage, { type: 'connected' }>>;
    const allConnectedAt = Math.max(...connected.map((c) => c.atMs));
    const connectSeconds = (allConnectedAt - t0) / 1000;
    await allRounds;
    const last = rounds.at(-1)!;
    await Promise.all(loads.map(({ p, tokens }) => (tokens === 0 || uploads.some((u) => u.round === last.summary.round && u.ok + u.rejected === tokens) ? undefined : waitForMessage<FleetLoadMessage>(p, (m) => m.type === 'uploads' && m.round === last.summary.round, 'the generators\' tallies', 30_000).catch(() => undefined))));
    const tallies = uploads.filter((u) => u.round === last.summary.round);
    const accepted = tallies.reduce((a, u) => a + u.ok, 0);
    const refused = tallies.reduce((a, u) => a + u.rejected, 0);
    const codes: Record<string, number> = {};
    for (const u of tallies) for (const [k, v] of Object.entries(u.codes)) codes[k] = (codes[k] ?? 0) + v;
    // Each node's own CPU and peak RSS (a fleet's followers never report rounds themselves).
    const samples = redis
      ? ((await Promise.all(nodes.map((node, k) => {
          const reply = waitForMessage<FleetNodeMessage>(node, (m) => m.type === 'sample', `node ${k}'s sample`, 30_000);
          node.send({ type: 'sample' } satisfies FleetNodeSampleRequest);
          return reply;
        }))) as Array<Extract<FleetNodeMessage, { type: 'sample' }>>)
      : [{ type: 'sample' as const, nodeId: 'node', cpuSeconds: last.cpuSeconds, systemCpuSeconds: last.systemCpuSeconds, peakRssBytes: last.peakRssBytes }];
    const cpuSeconds = samples.reduce((a, x) => a + x.cpuSeconds, 0);
    // The round's wall time starts when the last node has all its clients (the leader waits for them).
    const roundSeconds = (last.endedAtMs - Math.max(last.startedAtMs, allConnectedAt)) / 1000;
    const reported = last.summary.reporters.length;
    const numParams = readies[0]!.numParams;
    const payload = reported * numParams * 4;
    // What crossed the wire sealed: the payload plus the suite's per-chunk overhead (16 or 72 bytes).
    const sealedPerUpdate = numParams * 4 + chunkCount(numParams * 4, chunkBytes) * SEAL_SUITE_OVERHEAD[suite];
    // A fleet's samples cover every round since its clients connected (followers do not see round
    // boundaries): the CPU rates then divide by every round's updates, not the last one's.
    const cpuUpdates = redis ? rounds.reduce((a, r) => a + r.summary.reporters.length, 0) : reported;
    const cpuSealedBytes = cpuUpdates * sealedPerUpdate;
    return {
      bench: 'fleet',
      nodes: nodeCount,
      clients,
      numParams,
      model: o.params ? `synthetic-${o.params}` : o.model,
      sealing: suite,
      chunkBytes,
      // The round this line measures (from round 2 on, every session's key record is already verified and its X25519 done).
      round: last.summary.round,
      rounds: o.rounds,
      connectSeconds: round3(connectSeconds),
      roundSeconds: round3(roundSeconds),
      status: last.summary.status,
      ...(last.summary.reason ? { reason: last.summary.reason } : {}),
      reported,
      updatesPerSecond: round3(reported / roundSeconds),
      ingestBytesPerSecond: Math.round(payload / roundSeconds),
      ingestMBPerSecond: round3(payload / roundSeconds / 1e6),
      // Per node CPU second: sealed bytes over the CPU of all nodes together (the fleet's cost per byte).
      sealedBytesPerNodeCpuSecond: cpuSeconds > 0 ? Math.round(cpuSealedBytes / cpuSeconds) : null,
      sealedMBPerNodeCpuSecond: cpuSeconds > 0 ? round3(cpuSealedBytes / cpuSeconds / 1e6) : null,
      peakRssMiBPerNode: Math.round(Math.max(...samples.map((x) => x.peakRssBytes)) / 2 ** 20),
      cpuSecondsPerUpdate: cpuUpdates > 0 ? Number((cpuSeconds / cpuUpdates).toPrecision(4)) : null,
      ...(redis ? { cpuCovers: 'every round since all clients connected' } : {}),
      nodeCpuSeconds: round3(cpuSeconds),
      // The kernel's share of it (socket reads, page faults): what no user-space change can cut.
      nodeSystemCpuSeconds: round3(samples.reduce((a, x) => a + x.systemCpuSeconds, 0)),
      ...(redis ? { cpuSecondsEachNode: samples.map((x) => round3(x.cpuSeconds)), peakRssMiBEachNode: samples.map((x) => Math.round(x.peakRssBytes / 2 ** 20)) } : {}),
      rejected: refused,
      rejectCodes: codes,
      // Accepted by a node (acked) but not counted in the commit: must be 0.
      // An abandoned round counts nobody: its accepted updates are dropped by design, not lost.
      lost: last.summary.status === 'committed' ? Math.max(0, accepted - reported) : null,
      ...(last.summary.status === 'committed' ? {} : { acceptedThenDropped: accepted }),
      generators,
      nofile,
      sealingImpl: suite === SEAL_SUITE_AEAD ? 'node: OpenSSL AES-256-GCM (node:crypto); generators: node:crypto' : 'tweetnacl nacl.box (both ends)',
      ...(redis ? { transport: 'socket.io + @socket.io/redis-streams-adapter; generators connect to their node directly (no balancer)' } : {}),
      loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
      machine: machineInfo(),
    };
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    redis?.stop();
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export async function* benchFleet(opts: FleetBenchOptions = {}): AsyncGenerator<Record<string, unknown>> {
  // The node's ingest path alone (no transport), per suite: what the crypto + validation + aggregation cost.
  const numParams = opts.params ?? 100_000;
  const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  let ingestMBPerCpuSecond: number | undefined;
  for (const sealing of opts.sealing ?? ['aes']) {
    const { runIngestPath } = await import('./fleet-ingest.js');
    const line = await runIngestPath(numParams, SUITE_OF[sealing], opts.quick ? 50 : 200, chunkBytes);
    if (sealing === 'aes') ingestMBPerCpuSecond = line.nextRoundSealedMBPerCpuSecond as number;
    yield { ...line, loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100) };
  }
  // The transport floor (receive and ack only) and, with the ingest path, the ceiling it sets.
  if (!opts.quick) {
    const { runTransportFloor, FLOOR_TRANSPORTS } = await import('./fleet-transport.js');
    for (const transport of FLOOR_TRANSPORTS) yield await runTransportFloor(transport, { numParams, chunkBytes, suite: SEAL_SUITE_AEAD, ...(ingestMBPerCpuSecond ? { ingestMBPerCpuSecond } : {}) });
  }
  const grid = opts.clients ?? (opts.quick ? [200] : [1_000, 5_000, 10_000]);
  for (const clients of grid) {
    // Every suite at the same client count back to back: the legacy suite is the in-run baseline.
    for (const nodes of opts.nodes ?? [1]) {
      for (const sealing of opts.sealing ?? ['aes']) {
        yield await runFleetConfiguration(clients, { model: opts.model ?? 'mlp', rounds: opts.rounds ?? 1, generators: opts.generators ?? 2, timeoutMs: opts.timeoutMs ?? 600_000, sealing, nodes, ...(opts.redisUrl ? { redisUrl: opts.redisUrl } : {}), ...(opts.params ? { params: opts.params } : {}), ...(opts.chunkBytes ? { chunkBytes: opts.chunkBytes } : {}) });
      }
    }
  }
}
