/**
 * One coordinator node of `flock bench fleet`, in its own process (as deployed): tokens mode,
 * real socket.io on 127.0.0.1, sealed chunked uploads, in-memory state. It mints one
 * enrollment token per load-generator client, tells the parent its URL and the tokens over
 * IPC, and reports every round with its own CPU time and peak RSS (sampled every 100 ms).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { Coordinator, createStrategy, FleetMember, fleetStrategy, MemoryClientRegistry, mintToken, type RoundSummary } from '@flock/coordinator';
import { createPresetModel, flatModelOf, ready, type FlatModel, type ModelPreset } from '@flock/model';
import type { SealSuite } from '@flock/privacy';

export interface FleetNodeInit {
  clients: number;
  model: ModelPreset;
  rounds: number;
  roundTimeoutMs: number;
  /** Sealing suites the node accepts (the bench restricts it to the suite under test). */
  sealSuites: SealSuite[];
  /** The node's uploads.chunkBytes. */
  chunkBytes: number;
  /** A synthetic one-tensor model of this many parameters instead of the preset. */
  params?: number;
  /** Fleet mode (`--nodes` > 1): this node joins the fleet on this Redis; rounds need `totalClients`. */
  fleet?: { redisUrl: string; nodeId: string; leaseMs: number; totalClients: number };
  /** The coordinator key every node of a fleet shares (hex of the 64-byte secret key). */
  signingSecretKey?: string;
}

/** A model of `n` float32 parameters, one dense kernel (the node never trains it; clients never download it). */
function syntheticModel(n: number): FlatModel {
  return { topology: { synthetic: true }, spec: { format: 'flock-weights/v1', weights: [{ name: 'dense/kernel', shape: [n], dtype: 'float32' }] }, weights: new Float32Array(n) };
}

export type FleetNodeMessage =
  | { type: 'ready'; url: string; tokens: string[]; numParams: number }
  | { type: 'round'; summary: Pick<RoundSummary, 'round' | 'status' | 'reporters' | 'rejected' | 'bytesUp' | 'seconds' | 'modelVersion'> & { reason?: string }; cpuSeconds: number; systemCpuSeconds: number; peakRssBytes: number; startedAtMs: number; endedAtMs: number }
  | { type: 'connected'; clients: number; atMs: number }
  | { type: 'sample'; nodeId: string; cpuSeconds: number; systemCpuSeconds: number; peakRssBytes: number }
  | { type: 'error'; message: string };

/** What the parent sends a running node: report CPU since this node's clients were all connected. */
export interface FleetNodeSampleRequest {
  type: 'sample';
}

function send(m: FleetNodeMessage): void {
  process.send!(m);
}

/** FLOCK_FLEET_PROF=<dir>: a V8 CPU profile of each round (connected -> round end), to see what limits ingest. */
const profile = (() => {
  const dir = process.env.FLOCK_FLEET_PROF;
  let session: Session | undefined;
  return {
    start(): void {
      if (!dir || session) return;
      session = new Session();
      session.connect();
      session.post('Profiler.enable', () => session!.post('Profiler.start'));
    },
    stop(round: number): void {
      const s = session;
      if (!s) return;
      session = undefined;
      s.post('Profiler.stop', (err, res) => {
        if (!err) writeFileSync(`${dir}/fleet-node-round${round}.cpuprofile`, JSON.stringify(res.profile));
        s.disconnect();
      });
    },
  };
})();

async function main(init: FleetNodeInit): Promise<void> {
  await ready();
  const flat = init.params ? syntheticModel(init.params) : await flatModelOf(createPresetModel(init.model));
  const numParams = flat.weights.length;
  const registry = new MemoryClientRegistry();
  const tokens = Array.from({ length: init.clients }, (_, i) => mintToken(registry, { label: `fleet-${i}` }).token);
  const total = init.fleet?.totalClients ?? init.clients;
  const secret = init.signingSecretKey ? Uint8Array.from(Buffer.from(init.signingSecretKey, 'hex')) : undefined;
  const coordinator = new Coordinator({
    model: flat,
    registry,
    ...(secret ? { signingKey: { secretKey: secret, publicKey: secret.slice(32) } } : {}),
    ...(init.fleet
      ? {
          // A fleet node as `flock coordinator --redis` makes one: FedAvg through partial sums.
          fleet: new FleetMember({ redisUrl: init.fleet.redisUrl, federationId: 'bench', nodeId: init.fleet.nodeId, leaseMs: init.fleet.leaseMs }),
          strategy: fleetStrategy(createStrategy('fedavg')),
        }
      : {}),
    ...(process.env.FLOCK_FLEET_DEBUG ? { logger: { info: (o: unknown, m?: string) => console.error('node', m, JSON.stringify(o)), warn: (o: unknown, m?: string) => console.error('node WARN', m, JSON.stringify(o)), error: (o: unknown, m?: string) => console.error('node ERROR', m, JSON.stringify(o)) } as never } : {}),
    settings: {
      auth: 'tokens',
      minClients: total,
      maxClients: total,
      fraction: 1,
      rounds: init.rounds,
      roundTimeoutMs: init.roundTimeoutMs,
      // Every simulated device connects from 127.0.0.1: the per-address buckets would throttle
      // the load generator itself, not a real fleet.
      rateLimits: { exemptLoopback: true },
      uploads: { sealSuites: init.sealSuites, chunkBytes: init.chunkBytes },
    },
  });
  // memoryUsage.rss() reads only the RSS (memoryUsage() walks the heap spaces too: ~1 % of a round's CPU).
  let peakRss = process.memoryUsage.rss();
  setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100).unref();
  let cpuAtStart = process.cpuUsage();
  let cpuAtConnected = cpuAtStart;
  let startedAtMs = 0;
  let connected = 0;
  // The first round starts once every client is connected (minClients = clients): CPU and time
  // are counted from then, so connection handling is measured apart (connectSeconds).
  coordinator.on('client:connect', () => {
    if (++connected !== init.clients) return;
    cpuAtStart = process.cpuUsage();
    cpuAtConnected = cpuAtStart;
    startedAtMs = Date.now();
    profile.start();
    send({ type: 'connected', clients: connected, atMs: startedAtMs });
  });
  coordinator.on('client:disconnect', () => connected--);
  coordinator.on('round', (s: RoundSummary) => {
    profile.stop(s.round);
    profile.start(); // the next round's profile
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    const cpu = process.cpuUsage(cpuAtStart);
    send({
      type: 'round',
      summary: { round: s.round, status: s.status, reporters: s.reporters, rejected: s.rejected, bytesUp: s.bytesUp, seconds: s.seconds, modelVersion: s.modelVersion, ...(s.reason ? { reason: `${s.reason.code}: ${s.reason.message}` } : {}) },
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      systemCpuSeconds: cpu.system / 1e6,
      peakRssBytes: peakRss,
      startedAtMs,
      endedAtMs: Date.now(),
    });
    cpuAtStart = process.cpuUsage();
    startedAtMs = Date.now();
  });
  // A fleet node stays up until the parent has sampled it (the parent kills it).
  if (!init.fleet) coordinator.on('done', () => void coordinator.close().then(() => process.exit(0)));
  // In a fleet only the leader reports rounds; the parent asks every node for its own cost.
  process.on('message', (m: FleetNodeSampleRequest) => {
    if (m.type !== 'sample') return;
    const cpu = process.cpuUsage(cpuAtConnected);
    send({ type: 'sample', nodeId: init.fleet?.nodeId ?? 'node', cpuSeconds: (cpu.user + cpu.system) / 1e6, systemCpuSeconds: cpu.system / 1e6, peakRssBytes: Math.max(peakRss, process.memoryUsage.rss()) });
  });
  const url = await coordinator.listen(0, '127.0.0.1');
  coordinator.start();
  send({ type: 'ready', url, tokens, numParams });
}

process.once('message', (init: FleetNodeInit) => {
  main(init).catch((err: unknown) => {
    send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exit(1);
  });
});
process.on('disconnect', () => process.exit(0));
