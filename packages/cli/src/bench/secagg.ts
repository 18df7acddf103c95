import os from 'node:os';
import { addInto, applyMasks, buildNeighbourGraph, expandMask, graphSeed, secAggParameters, simulateSecAggRound } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { machineInfo } from './machine.js';

/**
 * SecAgg+ benchmark: one full round per configuration with in-process virtual clients
 * (node:crypto platform), against two in-run baselines: the plain streaming sum of the same
 * vectors and the measured AES-256-CTR mask-expansion throughput.
 *
 * Grid: n in {10, 50, 100}, m in {1e5, 1e6} (quick: 1e5 only), graph full and k = 11,
 * dropout 0 and 0.2 (clients dropped after sharing keys, i.e. before the masked input); and
 * n = 1000 with the parameters derived from the cohort (Bell et al. 2020, params.ts) and 10 %
 * of the clients dropping after sharing keys, spread over the ids (the graph's positions are a
 * seeded permutation, so this is a natural, uncapped dropout set).
 */
export interface BenchSecAggOptions {
  quick?: boolean;
  /** Only these cohort sizes (e.g. [1000]). */
  cohorts?: number[];
}

const SESSION = 'bench-secagg';
const now = (): number => performance.now() / 1000;

/** Deterministic per-client input (fast to regenerate; generation time is not measured). */
function inputSeed(i: number): Uint8Array {
  const s = new Uint8Array(32);
  new DataView(s.buffer).setUint32(0, i + 1);
  s[31] = 0x5a;
  return s;
}

const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/**
 * Measured throughput of mask expansion (bytes/s) over `streams` streams of m elements: best of
 * three by wall time, and best of the same three by process CPU time (less sensitive to load).
 */
async function prgThroughput(m: number, streams: number): Promise<{ wall: number; cpu: number }> {
  const seed = nodePlatform.randomBytes(32);
  await expandMask(nodePlatform, seed, m); // warm-up
  let best = 0;
  let bestCpu = 0;
  for (let rep = 0; rep < 3; rep++) {
    const t0 = now();
    const c0 = cpuNow();
    for (let i = 0; i < streams; i++) await expandMask(nodePlatform, seed, m);
    best = Math.max(best, (streams * 4 * m) / (now() - t0));
    bestCpu = Math.max(bestCpu, (streams * 4 * m) / Math.max(1e-6, cpuNow() - c0));
  }
  return { wall: best, cpu: bestCpu };
}

/** Measured throughput (bytes/s) of applying masks: expansion fused with the ring addition. */
async function maskApplyThroughput(m: number, streams: number): Promise<number> {
  const acc = new Uint32Array(m);
  const items = Array.from({ length: streams }, (_, i) => ({ seed: nodePlatform.randomBytes(32), sign: (i % 2 === 0 ? 1 : -1) as 1 | -1 }));
  await applyMasks(nodePlatform, acc, items.slice(0, 1)); // warm-up
  let best = 0;
  for (let rep = 0; rep < 3; rep++) {
    const t0 = now();
    await applyMasks(nodePlatform, acc, items);
    best = Math.max(best, (streams * 4 * m) / (now() - t0));
  }
  return best;
}

interface Rep {
  result: Awaited<ReturnType<typeof simulateSecAggRound>>;
  prg: { wall: number; cpu: number };
  plainSumSeconds: number;
  exact: boolean;
  ratio: number;
}

/**
 * Rounds per configuration: 5 where a round is cheap, 3 where the clients' work takes seconds;
 * at n = 1000 (minutes per round at m = 1e6) 3 and 2.
 */
function repetitions(m: number, n: number): number {
  if (n >= 1000) return m <= 1e5 ? 3 : 2;
  return m <= 1e5 ? 5 : 3;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

type GraphKind = 'full' | 11 | 'derived';

/** The configurations measured, in order. */
function grid(opts: BenchSecAggOptions): { m: number; n: number; graph: GraphKind; dropout: number }[] {
  const ms = opts.quick ? [1e5] : [1e5, 1e6];
  const out: { m: number; n: number; graph: GraphKind; dropout: number }[] = [];
  for (const m of ms) {
    for (const n of [10, 50, 100]) {
      for (const graph of ['full', 11] as const) {
        if (graph === 11 && n <= 12) continue; // k = 11 is the full graph for n <= 12
        for (const dropout of [0, 0.2]) out.push({ m, n, graph, dropout });
      }
    }
  }
  for (const m of ms) out.push({ m, n: 1000, graph: 'derived', dropout: 0.1 });
  return opts.cohorts ? out.filter((c) => opts.cohorts!.includes(c.n)) : out;
}

function pick(ids: string[], fraction: number): string[] {
  // Spread dropouts evenly over the sorted ids (deterministic, no Math.random).
  const count = Math.round(ids.length * fraction);
  const out: string[] = [];
  for (let j = 0; j < count; j++) out.push(ids[Math.floor((j * ids.length) / count)]!);
  return out;
}

/**
 * A dropout set of the given fraction that the round can survive: clients are considered in an
 * order spread over the sorted ids and dropped only while no neighbourhood loses more than
 * k_eff - t members. (An unconstrained random 20% set usually exceeds the tolerance of k = 11.)
 */
function feasibleDropouts(ids: string[], k: number, t: number, fraction: number): string[] {
  const graph = buildNeighbourGraph(ids, k, graphSeed(SESSION, 1, [...ids].sort()));
  const tolerance = graph.degree - t;
  const lost = new Map<string, number>(ids.map((id) => [id, 0]));
  const want = Math.round(ids.length * fraction);
  const out: string[] = [];
  for (const id of pick(ids, 1).map((_, j, a) => a[(j * 7) % a.length]!)) {
    if (out.length >= want) break;
    const nb = graph.neighbours.get(id)!;
    if (nb.every((v) => lost.get(v)! < tolerance)) {
      out.push(id);
      for (const v of nb) lost.set(v, lost.get(v)! + 1);
    }
  }
  return out;
}

function max(xs: Iterable<number>): number {
  let r = 0;
  for (const x of xs) r = Math.max(r, x);
  return r;
}
function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}

export async function* benchSecAgg(opts: BenchSecAggOptions = {}): AsyncGenerator<Record<string, unknown>> {
  const machine = machineInfo();
  // Warm-up (not reported): the first round in a process pays JIT compilation, key-object and
  // WebAssembly set-up that no later round pays.
  {
    const ids = Array.from({ length: 12 }, (_, i) => `warm-${i}`);
    const p = secAggParameters({ cohortSize: ids.length, k: 11 });
    await simulateSecAggRound({
      session: SESSION,
      round: 1,
      ids,
      k: p.k,
      t: p.t,
      vectorLength: 1e5,
      platform: nodePlatform,
      input: (id) => expandMask(nodePlatform, inputSeed(ids.indexOf(id)), 1e5),
      drop: { maskedInput: [ids[0]!, ids[5]!] },
    });
  }
  for (const { m, n, graph, dropout } of grid(opts)) {
    const ids = Array.from({ length: n }, (_, i) => `client-${String(i).padStart(3, '0')}`);
    const p = secAggParameters({ cohortSize: n, ...(graph === 'full' ? { k: n - 1 } : graph === 11 ? { k: graph } : {}) });
    const dropped = graph === 11 ? feasibleDropouts(ids, p.k, p.t, dropout) : pick(ids, dropout);
    const inputs = (id: string): Promise<Uint32Array> => expandMask(nodePlatform, inputSeed(ids.indexOf(id)), m);
    const streams = Math.max(4, Math.round(4e7 / (4 * m)));
    // Several rounds per configuration (a millisecond-scale unmask is at the mercy of one GC
    // pause or scheduler hiccup), each priced against a PRG rate measured just before it;
    // the round with the median ratio is reported, every ratio is listed.
    const reps = repetitions(m, n);
    const runs: Rep[] = [];
    let failure: string | undefined;
    for (let rep = 0; rep < reps && !failure; rep++) {
      const prg = await prgThroughput(m, streams);
      try {
        const result = await simulateSecAggRound({
          session: SESSION,
          round: 1,
          ids,
          k: p.k,
          t: p.t,
          vectorLength: m,
          platform: nodePlatform,
          input: inputs,
          drop: { maskedInput: dropped },
        });
        // Baseline: plain streaming sum of the same survivors' vectors (generation excluded).
        const acc = new Uint32Array(m);
        let plainSumSeconds = 0;
        for (const id of result.status.masked) {
          const v = await inputs(id);
          const t0 = now();
          addInto(acc, v);
          plainSumSeconds += now() - t0;
        }
        const exact = acc.every((x, i) => x === result.sum[i]);
        const ratio = result.serverSeconds.finalize / (result.keystreamBytesServer / prg.wall + plainSumSeconds);
        runs.push({ result, prg, plainSumSeconds, exact, ratio });
      } catch (e) {
        failure = (e as Error).message;
      }
    }
    if (failure || runs.length === 0) {
      yield { n, m, k: p.k, t: p.t, graph, dropout, error: failure, machine };
      continue;
    }
    const ratios = runs.map((r) => r.ratio);
    // The median round (the upper one of an even count: never the best of two).
    const { result, prg, plainSumSeconds } = runs.slice().sort((a, b) => a.ratio - b.ratio)[Math.floor(runs.length / 2)]!;
    const exact = runs.every((r) => r.exact);
    const prgBytesPerSecond = prg.wall;
    const maskApplyBytesPerSecond = await maskApplyThroughput(m, streams);
    const clients = [...result.clientSeconds.values()];
    const total = (s: { advertiseKeys: number; shareKeys: number; maskedInput: number; unmask: number }): number =>
      s.advertiseKeys + s.shareKeys + s.maskedInput + s.unmask;
    const survivorsTotals = result.status.masked.map((id) => total(result.clientSeconds.get(id)!));
    const survivorsCpu = result.status.masked.map((id) => total(result.clientCpuSeconds.get(id)!));
    const serverUnmaskSeconds = result.serverSeconds.finalize;
    yield {
      n,
      m,
      graph,
      k: result.status.advertised.length - 1 < p.k ? result.status.advertised.length - 1 : p.k,
      t: p.t,
      dropout,
      dropped: dropped.length,
      dropoutSelection: dropout === 0 ? 'none' : graph === 11 ? 'spread, capped at the per-neighbourhood tolerance' : 'spread',
      ...(p.derivation ? { corruptionRate: p.derivation.corruptionRate, dropoutRate: p.derivation.dropoutRate, sigma: p.derivation.sigma, eta: p.derivation.eta } : {}),
      exact,
      clientMaskSeconds: mean(clients.filter((c) => c.maskedInput > 0).map((c) => c.maskedInput)),
      clientMaskSecondsMax: max(clients.map((c) => c.maskedInput)),
      clientTotalSeconds: mean(survivorsTotals),
      clientTotalSecondsMax: max(survivorsTotals),
      clientTotalSecondsMedian: median(survivorsTotals),
      clientTotalCpuSeconds: mean(survivorsCpu),
      clientMaskCpuSeconds: mean(result.status.masked.map((id) => result.clientCpuSeconds.get(id)!.maskedInput)),
      clientShareKeysSeconds: mean(clients.map((c) => c.shareKeys)),
      serverReceiveSeconds: result.serverSeconds.advertiseKeys + result.serverSeconds.shareKeys + result.serverSeconds.maskedInput + result.serverSeconds.unmask,
      serverStreamingSumSeconds: result.serverSeconds.maskedInput,
      serverUnmaskSeconds,
      serverUnmaskCpuSeconds: result.serverFinalizeCpuSeconds,
      plainSumSeconds,
      prgBytesPerSecond: Math.round(prgBytesPerSecond),
      keystreamBytesServer: result.keystreamBytesServer,
      /** server unmask / (keystreamBytesServer / prgBytesPerSecond + plainSumSeconds); target <= 1.5 */
      unmaskVsPredicted: serverUnmaskSeconds / (result.keystreamBytesServer / prgBytesPerSecond + plainSumSeconds),
      /** the ratio of every round measured (the reported round is the median one) */
      unmaskVsPredictedAll: ratios.map((r) => Number(r.toFixed(3))),
      reps: runs.length,
      /** the same ratio on process CPU time: unmask CPU / (keystream at the best CPU-time PRG rate + plain sum) */
      prgCpuBytesPerSecond: Math.round(prg.cpu),
      unmaskCpuVsPredicted: result.serverFinalizeCpuSeconds / (result.keystreamBytesServer / prg.cpu + plainSumSeconds),
      maskApplyBytesPerSecond: Math.round(maskApplyBytesPerSecond),
      /** same, with the keystream priced at the fused expand-and-add rate */
      unmaskVsPredictedFused: serverUnmaskSeconds / (result.keystreamBytesServer / maskApplyBytesPerSecond + plainSumSeconds),
      uploadBytesPerClient: Math.round(max(result.uploadBytes.values())),
      uploadOverheadBytes: Math.round(max(result.uploadBytes.values())) - 4 * m,
      loadAverage1m: os.loadavg()[0],
      machine,
    };
  }
}
