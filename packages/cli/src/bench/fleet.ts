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
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { ModelPreset } from '@flock/model';
import { DEFAULT_CHUNK_BYTES, chunkCount } from '@flock/protocol';
import { SEAL_SUITE_AEAD, SEAL_SUITE_LEGACY, SEAL_SUITE_OVERHEAD, type SealSuite } from '@flock/privacy';
import { machineInfo } from './machine.js';
import type { FleetNodeInit, FleetNodeMessage } from './fleet-node.js';
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

function child<I, M extends { type: string }>(entry: string, nofile: number, init: I, onMessage: (m: M) => void): ChildProcess {
  // From src/ (a checkout) through the repository's source loader; from dist/, the .js entry.
  const fromSource = import.meta.url.endsWith('.ts');
  const file = new URL(`./${entry}${fromSource ? '.ts' : '.js'}`, import.meta.url).pathname;
  const loader = fromSource ? `--import ${JSON.stringify(new URL('../../../../scripts/source-loader.mjs', import.meta.url).pathname)} ` : '';
  // exec keeps the IPC channel (its fd and NODE_CHANNEL_FD pass through bash).
  const cmd = `ulimit -n ${nofile} 2>/dev/null; exec ${JSON.stringify(process.execPath)} --max-old-space-size=4096 ${loader}${JSON.stringify(file)}`;
  const p = spawn('bash', ['-c', cmd], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  p.on('message', (m) => { if (process.env.FLOCK_FLEET_DEBUG) console.error(entry, JSON.stringify(m).slice(0, 300)); onMessage(m as M); });
  p.send(init as object);
  return p;
}

function waitForMessage<M extends { type: string }>(p: ChildProcess, pred: (m: M) => boolean, what: string, timeoutMs: number): Promise<M> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`fleet bench: timed out after ${timeoutMs / 1000} s waiting for ${what}`)), timeoutMs);
    const onMessage = (m: M): void => {
      if (m.type === 'error') return done(new Error(`fleet bench: ${what}: ${(m as unknown as { message: string }).message}`));
      if (pred(m)) done(undefined, m);
    };
    const onExit = (code: number | null): void => done(new Error(`fleet bench: a child exited with ${code} before ${what}`));
    const done = (err?: Error, m?: M): void => {
      clearTimeout(t);
      p.off('message', onMessage as never);
      p.off('exit', onExit);
      if (err) reject(err);
      else resolve(m!);
    };
    p.on('message', onMessage as never);
    p.once('exit', onExit);
  });
}

/** One configuration: one node, `clients` load-generator clients, `rounds` rounds. */
export async function runFleetConfiguration(clients: number, o: Required<Omit<FleetBenchOptions, 'quick' | 'clients' | 'sealing' | 'params' | 'chunkBytes'>> & { sealing?: FleetSealing; params?: number; chunkBytes?: number }): Promise<Record<string, unknown>> {
  const suite = SUITE_OF[o.sealing ?? 'aes'];
  const chunkBytes = o.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const limit = openFilesLimit();
  // One socket per client on the node, plus headroom for files, the challenge HTTP requests and pipes.
  const nofile = Math.min(limit.hard, Math.max(limit.soft, clients + 4096));
  const procs: ChildProcess[] = [];
  try {
    const node = child<FleetNodeInit, FleetNodeMessage>('fleet-node', nofile, { clients, model: o.model, rounds: o.rounds, roundTimeoutMs: o.timeoutMs, sealSuites: [suite], chunkBytes, ...(o.params ? { params: o.params } : {}) }, () => {});
    procs.push(node);
    const rounds: Array<Extract<FleetNodeMessage, { type: 'round' }>> = [];
    node.on('message', (m: FleetNodeMessage) => m.type === 'round' && rounds.push(m));
    const allRounds = waitForMessage<FleetNodeMessage>(node, () => rounds.length >= o.rounds, `${o.rounds} round(s)`, o.timeoutMs * (o.rounds + 1) + 120_000);
    allRounds.catch(() => {});
    const ready = (await waitForMessage<FleetNodeMessage>(node, (m) => m.type === 'ready', 'the coordinator node', 120_000)) as Extract<FleetNodeMessage, { type: 'ready' }>;
    const nodeConnected = waitForMessage<FleetNodeMessage>(node, (m) => m.type === 'connected', `${clients} connections`, o.timeoutMs);
    nodeConnected.catch(() => {});
    const generators = Math.min(o.generators, clients);
    const uploads: Array<Extract<FleetLoadMessage, { type: 'uploads' }>> = [];
    const t0 = Date.now();
    const loads = Array.from({ length: generators }, (_, g) => {
      const tokens = ready.tokens.filter((_, i) => i % generators === g);
      const p = child<FleetLoadInit, FleetLoadMessage>('fleet-load', nofile, { url: ready.url, tokens, numParams: ready.numParams, connectConcurrency: 64, uploadConcurrency: 256, suites: [suite] }, (m) => {
        if (m.type === 'uploads') uploads.push(m);
        if (m.type === 'error') console.error(`fleet bench: load generator ${g}: ${m.message}`);
      });
      procs.push(p);
      return p;
    });
    const connected = (await nodeConnected) as Extract<FleetNodeMessage, { type: 'connected' }>;
    const connectSeconds = (connected.atMs - t0) / 1000;
    await allRounds;
    await Promise.all(loads.map((p) => (uploads.filter((u) => u.round === o.rounds).length >= generators ? undefined : waitForMessage<FleetLoadMessage>(p, (m) => m.type === 'uploads' && m.round === rounds.at(-1)!.summary.round, 'the generators\' tallies', 30_000).catch(() => undefined))));
    const last = rounds.at(-1)!;
    const accepted = uploads.filter((u) => u.round === last.summary.round).reduce((a, u) => a + u.ok, 0);
    const refused = uploads.filter((u) => u.round === last.summary.round).reduce((a, u) => a + u.rejected, 0);
    const codes: Record<string, number> = {};
    for (const u of uploads.filter((x) => x.round === last.summary.round)) for (const [k, v] of Object.entries(u.codes)) codes[k] = (codes[k] ?? 0) + v;
    const roundSeconds = (last.endedAtMs - last.startedAtMs) / 1000;
    const reported = last.summary.reporters.length;
    const payload = reported * ready.numParams * 4;
    // What crossed the wire sealed: the payload plus the suite's per-chunk overhead (16 or 72 bytes).
    const sealedBytes = payload + reported * chunkCount(ready.numParams * 4, chunkBytes) * SEAL_SUITE_OVERHEAD[suite];
    return {
      bench: 'fleet',
      nodes: 1,
      clients,
      numParams: ready.numParams,
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
      sealedBytesPerNodeCpuSecond: last.cpuSeconds > 0 ? Math.round(sealedBytes / last.cpuSeconds) : null,
      sealedMBPerNodeCpuSecond: last.cpuSeconds > 0 ? round3(sealedBytes / last.cpuSeconds / 1e6) : null,
      peakRssMiBPerNode: Math.round(last.peakRssBytes / 2 ** 20),
      cpuSecondsPerUpdate: reported > 0 ? Number((last.cpuSeconds / reported).toPrecision(4)) : null,
      nodeCpuSeconds: round3(last.cpuSeconds),
      rejected: refused,
      rejectCodes: codes,
      // Accepted by the coordinator (acked) but not counted in the commit: must be 0.
      lost: Math.max(0, accepted - reported),
      generators,
      nofile,
      sealingImpl: suite === SEAL_SUITE_AEAD ? 'node: OpenSSL AES-256-GCM (node:crypto); generators: node:crypto' : 'tweetnacl nacl.box (both ends)',
      loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
      machine: machineInfo(),
    };
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export async function* benchFleet(opts: FleetBenchOptions = {}): AsyncGenerator<Record<string, unknown>> {
  // The node's ingest path alone (no transport), per suite: what the crypto + validation + aggregation cost.
  for (const sealing of opts.sealing ?? ['aes']) {
    const { runIngestPath } = await import('./fleet-ingest.js');
    yield { ...(await runIngestPath(opts.params ?? 100_000, SUITE_OF[sealing], opts.quick ? 50 : 200, opts.chunkBytes ?? DEFAULT_CHUNK_BYTES)), loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100) };
  }
  const grid = opts.clients ?? (opts.quick ? [200] : [1_000, 5_000, 10_000]);
  for (const clients of grid) {
    // Every suite at the same client count back to back: the legacy suite is the in-run baseline.
    for (const sealing of opts.sealing ?? ['aes']) {
      yield await runFleetConfiguration(clients, { model: opts.model ?? 'mlp', rounds: opts.rounds ?? 1, generators: opts.generators ?? 2, timeoutMs: opts.timeoutMs ?? 600_000, sealing, ...(opts.params ? { params: opts.params } : {}), ...(opts.chunkBytes ? { chunkBytes: opts.chunkBytes } : {}) });
    }
  }
}
