import * as tf from '@tensorflow/tfjs';
import { Coordinator, createStrategy, DifferentiallyPrivate, type Logger, type RoundSummary } from '@flock/coordinator';
import { FlockClient } from '@flock/client';
import { createPresetModel, flatModelOf, selectBackend, type BackendPreference, type ModelPreset } from '@flock/model';
import { loadFashionMnist } from './data/index.js';
import { formatPartitionSpec, parsePartitionSpec, partition, partitionSummary, type PartitionSummary } from './partition/index.js';
import { toTensors } from './tensors.js';
import { evaluateWeights } from './evaluate.js';
import { clientIdOf, clientSeedOf } from './clients.js';
import { ClientWorkerPool } from './worker-pool.js';
import { dropoutPlan } from './faults.js';
import { ClientDelays, DelayPlan, formatBandwidthSpec, formatStragglerSpec, summarizeRoundDelays } from './delays.js';
import { nodePlatform } from '@flock/privacy/node';

export interface SimulationOptions {
  clients: number;
  rounds: number;
  /** `iid`, `dirichlet:ALPHA`, `shards:C`, `quantity:ALPHA`. */
  partition: string;
  seed: number;
  model: ModelPreset;
  /** Fashion-MNIST directory; default: FLOCK_DATA, Debian's location, then the shipped subset. */
  dataDir?: string;
  backend?: BackendPreference;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  momentum?: number;
  /** Secure aggregation (SecAgg+) with optional neighbourhood size k and threshold t. */
  secagg?: { enabled: boolean; k?: number; t?: number; clip?: number };
  /** Per-round probability that a selected client drops out (at a random stage under SecAgg). */
  dropout?: number;
  /**
   * Stragglers: extra compute delay per client and round, e.g. `lognormal:800ms,0.5,frac=0.2`
   * (see delays.ts for the grammar). Seeded; a straggler slower than the round deadline misses the round.
   */
  straggler?: string;
  /** Bandwidth limits, e.g. `up=1mbit,down=10mbit[,sigma=0.5]`: transfer time of the bytes each client moves. */
  bandwidth?: string;
  /**
   * Differential privacy (DP-FedAvg): clients clip to `clip`; Gaussian noise of stddev
   * noiseMultiplier * clip on the sum, added by the coordinator (central) or every client (local).
   */
  dp?: { mode: 'central' | 'local' | 'distributed'; noiseMultiplier: number; clip: number; delta: number; adaptiveClipQuantile?: number };
  /** Strategy spec, e.g. `fedavg`, `fedadam:eta=0.01`, `fedprox:mu=0.01` (default fedavg). */
  strategy?: string;
  /** Fraction of clients per round. */
  fraction?: number;
  roundTimeoutMs?: number;
  /** Use only the first N training / test examples. */
  trainLimit?: number;
  testLimit?: number;
  /**
   * Worker threads training the clients. 1 (default) trains them all on the main thread;
   * N > 1 spreads them over N threads. Same seed, same backend: same final model either way.
   */
  workers?: number;
  /** Keep the coordinator running after the last round (the demo's --serve). */
  keepServing?: boolean;
  onProgress?: (event: SimulationEvent) => void;
  logger?: Logger;
}

export type SimulationEvent =
  | { type: 'setup'; backend: string; dataSource: string; trainExamples: number; testExamples: number; partition: PartitionSummary; url: string }
  | ({ type: 'round'; rounds: number; status: string } & RoundRecord);

export interface RoundRecord {
  round: number;
  modelVersion: number;
  accuracy: number;
  loss: number;
  participants: number;
  /** Selected clients that did not deliver an accepted update. */
  dropouts: number;
  bytesUp: number;
  bytesDown: number;
  seconds: number;
  /** Privacy spent so far (with --dp), at the configured delta. */
  epsilon?: number;
  /** With straggler or bandwidth injection: selected clients that straggle. */
  stragglers?: number;
  /** With straggler or bandwidth injection: selected clients with an injected delay that did not report. */
  late?: number;
  /** With straggler or bandwidth injection: mean injected delay over the selected clients, ms (as planned: compute + one model download + one update upload). */
  meanDelayMs?: number;
}

/** The final JSON summary line of `flock sim --json` and `flock demo --json`. */
export interface SimulationSummary {
  rounds: number;
  accuracy: number;
  loss: number;
  wallSeconds: number;
  backend: string;
  workers: number;
  clients: number;
  partition: string;
  strategy: string;
  secagg: boolean;
  dropout: number;
  /** Canonical straggler spec, or null. */
  straggler: string | null;
  /** Canonical bandwidth spec, or null. */
  bandwidth: string | null;
  dp: string | null;
  /** Final epsilon at dp.delta (with --dp). */
  epsilon: number | null;
  seed: number;
  model: ModelPreset;
  modelVersion: number;
  modelHash: string;
  dataSource: string;
  url: string;
  /** Peak resident set size of this process, MiB (worker threads included; separate processes not). */
  peakRssMiB: number;
  /** Training rounds abandoned and retried (too few reports, or SecAgg aborts beyond its tolerance). */
  abandonedRounds: number;
}

export interface SimulationResult {
  summary: SimulationSummary;
  history: RoundRecord[];
  /** Present with keepServing: the coordinator still serving the final model; close it when done. */
  coordinator?: Coordinator;
}

/**
 * Runs a federation on one machine: one real coordinator and N real SDK clients talking
 * socket.io over loopback, on Fashion-MNIST split by `partition`. Central evaluation of each
 * committed model on the test set gives the accuracy curve.
 */
export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const t0 = performance.now();
  if (!Number.isInteger(options.clients) || options.clients < 1) throw new RangeError('clients must be a positive integer');
  if (!Number.isInteger(options.rounds) || options.rounds < 1) throw new RangeError('rounds must be a positive integer');
  if (!Number.isSafeInteger(options.seed)) throw new RangeError('seed must be an integer');
  const spec = parsePartitionSpec(options.partition);
  if (options.dp?.mode === 'distributed' && !options.secagg?.enabled) throw new RangeError('dp mode distributed adds its noise inside secure aggregation: enable secagg (--secagg)');
  const baseStrategy = createStrategy(options.strategy ?? 'fedavg');
  const delayPlan = options.straggler !== undefined || options.bandwidth !== undefined ? new DelayPlan({ seed: options.seed, numClients: options.clients, ...(options.straggler !== undefined ? { straggler: options.straggler } : {}), ...(options.bandwidth !== undefined ? { bandwidth: options.bandwidth } : {}) }) : undefined;
  const backend = await selectBackend(options.backend ?? 'auto');
  const train = await loadFashionMnist({ dir: options.dataDir, split: 'train', limit: options.trainLimit });
  const test = await loadFashionMnist({ dir: options.dataDir, split: 'test', limit: options.testLimit });
  const parts = partition(train.labels, options.clients, spec, options.seed);
  const summaryTable = partitionSummary(train.labels, parts, 10);

  const initial = createPresetModel(options.model, { seed: options.seed });
  const flat = await flatModelOf(initial);
  const cohort = Math.max(1, Math.min(options.clients, Math.ceil(options.clients * (options.fraction ?? 1))));
  // minClients both starts a round (all simulated clients are connected) and is the least
  // number of reports that commits it: with simulated dropouts (or stragglers that miss the
  // deadline), half the cohort suffices.
  // Poisson-sampled (DP) cohorts vary in size too: commit with half the expected cohort.
  const minClients = options.dropout || options.dp || delayPlan ? Math.max(options.secagg?.enabled ? 3 : 1, Math.ceil(cohort / 2)) : cohort;
  // Under DP clients are Poisson-sampled with q = fraction (below), exactly as the accountant assumes.
  const adaptive = options.dp?.adaptiveClipQuantile;
  const strategy = options.dp
    ? new DifferentiallyPrivate(baseStrategy, {
        mode: options.dp.mode,
        noiseMultiplier: options.dp.noiseMultiplier,
        clip: options.dp.clip,
        delta: options.dp.delta,
        samplingRate: options.fraction ?? 1,
        // Andrew et al.'s recommendations: count noise = expected cohort / 20, learning rate 0.2.
        ...(adaptive !== undefined ? { adaptiveClip: { targetQuantile: adaptive, learningRate: 0.2, countNoiseStddev: Math.max(1, cohort / 20) } } : {}),
      })
    : baseStrategy;
  const coordinator = new Coordinator({
    model: flat,
    settings: {
      federationId: 'sim',
      minClients,
      fraction: options.fraction ?? 1,
      rounds: options.rounds,
      roundTimeoutMs: options.roundTimeoutMs ?? 600_000,
      train: { epochs: options.epochs ?? 1, batchSize: options.batchSize ?? 32, learningRate: options.learningRate ?? 0.05, ...(options.momentum ? { momentum: options.momentum } : {}) },
      selectionSeed: options.seed,
      // Under DP, Poisson sampling with q = fraction: the accountant's assumption holds exactly.
      ...(options.dp ? { sampling: 'poisson' as const } : {}),
      // Cohort size comes from the fraction, not from minClients.
      maxClients: cohort,
      ...(options.secagg?.enabled
        ? {
            secureAggregation: {
              enabled: true,
              ...(options.secagg.k ? { k: options.secagg.k } : {}),
              ...(options.secagg.t ? { t: options.secagg.t } : {}),
              // Derive k and t for the simulated dropout rate (at least the default 0.1).
              ...(options.dropout ? { dropoutRate: Math.min(0.45, Math.max(0.1, options.dropout)) } : {}),
              // Without DP (and in local mode) the per-coordinate clip of the weighted encoding; central and
              // distributed DP use their own encoding (clip and scale planned by the coordinator, no weights).
              clip: options.secagg.clip ?? options.dp?.clip ?? 1,
              weightCap: 100_000,
              // Key stages are quick on loopback but grow with the cohort (every client verifies the
              // roster and encrypts a share per neighbour, all in this process): 5 s + 150 ms per client.
              stageTimeoutMs: 5_000 + 150 * cohort,
            },
          }
        : {}),
      // With dropouts a round waits for its deadline: keep it short in simulations.
      ...(options.dropout || delayPlan ? { roundTimeoutMs: options.roundTimeoutMs ?? 60_000 } : {}),
    },
    strategy,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  coordinator.deterministicOrder = true;
  // Every simulated client enrolls with its own token: simulations run the real auth path.
  const tokens = Array.from({ length: options.clients }, (_, i) => coordinator.auth.mintToken({ label: `sim ${clientIdOf(i)}` }).token);
  const url = await coordinator.listen(0, '127.0.0.1');
  options.onProgress?.({ type: 'setup', backend: backend.name, dataSource: train.description, trainExamples: train.count, testExamples: test.count, partition: summaryTable, url });

  const testTensors = toTensors(test.images, test.labels, undefined);
  const workers = options.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError('workers must be a positive integer');
  // With worker threads, each thread loads the data and rebuilds the same split itself.
  const clientTensors = workers > 1 ? [] : parts.map((idx) => toTensors(train.images, train.labels, idx));
  const clientDelays = delayPlan ? clientTensors.map((_, i) => new ClientDelays(delayPlan, i)) : [];
  const clients = clientTensors.map((data, i) => {
    const slow = clientDelays[i];
    const client = new FlockClient({
      url,
      clientId: clientIdOf(i),
      token: tokens[i]!,
      model: () => createPresetModel(options.model),
      data,
      seed: clientSeedOf(options.seed, i),
      crypto: nodePlatform,
      ...(slow ? { platform: slow.platform } : {}),
      ...(options.dropout || slow
        ? { faults: { ...(options.dropout ? { dropBefore: dropoutPlan(options.seed, i, options.dropout, options.secagg?.enabled === true) } : {}), ...(slow ? { delay: slow.delay } : {}) } }
        : {}),
      // Many virtual clients: hold data only, build the model when selected.
      reuseModel: options.clients <= 64,
    });
    slow?.attach(client);
    return client;
  });
  // For the metrics: which selected clients were simulated dropouts (not late) in a round.
  const dropPlans = options.dropout ? new Map<number, ReturnType<typeof dropoutPlan>>() : undefined;
  const droppedIn = (round: number) => (i: number): boolean => {
    if (!dropPlans) return false;
    let plan = dropPlans.get(i);
    if (!plan) dropPlans.set(i, (plan = dropoutPlan(options.seed, i, options.dropout!, options.secagg?.enabled === true)));
    return plan(round) !== undefined;
  };
  const indexOf = (id: string): number => Number(id.slice(id.lastIndexOf('-') + 1));
  let pool: ClientWorkerPool | undefined;
  const history: RoundRecord[] = [];
  let evalChain = Promise.resolve();
  coordinator.on('round', (r: RoundSummary) => {
    if (r.kind !== 'train' || r.status !== 'committed') return;
    const version = coordinator.store.get(r.modelVersion)!;
    evalChain = evalChain.then(() => {
      const { loss, accuracy } = evaluateWeights(initial, version.weights, testTensors.x, testTensors.y);
      coordinator.store.annotate(version.version, { test_accuracy: accuracy, test_loss: loss });
      const rec: RoundRecord = {
        round: history.length + 1,
        modelVersion: version.version,
        accuracy,
        loss,
        participants: r.reporters.length,
        dropouts: r.selected.length - r.reporters.length,
        bytesUp: r.bytesUp,
        bytesDown: r.bytesDown,
        seconds: r.seconds,
        ...(version.metrics.epsilon !== undefined ? { epsilon: version.metrics.epsilon } : {}),
        ...(delayPlan ? summarizeRoundDelays(delayPlan, r.round, r.selected.map(indexOf), new Set(r.reporters.map(indexOf)), flat.weights.byteLength, droppedIn(r.round)) : {}),
      };
      history.push(rec);
      options.onProgress?.({ type: 'round', ...rec, rounds: options.rounds, status: r.status });
    });
  });
  try {
    if (workers > 1) {
      pool = await ClientWorkerPool.start(workers, {
        url,
        ...(options.dataDir ? { dataDir: options.dataDir } : {}),
        ...(options.trainLimit ? { trainLimit: options.trainLimit } : {}),
        partition: options.partition,
        seed: options.seed,
        secure: options.secagg?.enabled === true,
        dropout: options.dropout ?? 0,
        ...(options.straggler !== undefined ? { straggler: options.straggler } : {}),
        ...(options.bandwidth !== undefined ? { bandwidth: options.bandwidth } : {}),
        numClients: options.clients,
        tokens,
        model: options.model,
        backend: options.backend ?? 'auto',
      });
    }
    await Promise.all(clients.map((c) => c.start()));
    coordinator.start();
    await coordinator.whenDone();
    await evalChain;
  } finally {
    for (const d of clientDelays) d.abort();
    await Promise.all(clients.map((c) => c.stop()));
    await pool?.stop();
    for (const t of clientTensors) tf.dispose([t.x, t.y]);
    tf.dispose([testTensors.x, testTensors.y]);
    initial.dispose();
    if (!options.keepServing) await coordinator.close();
  }
  const latest = coordinator.store.latest();
  const last = history[history.length - 1];
  const summary: SimulationSummary = {
    rounds: history.length,
    accuracy: last?.accuracy ?? NaN,
    loss: last?.loss ?? NaN,
    wallSeconds: Math.round((performance.now() - t0) / 10) / 100,
    backend: backend.name,
    workers,
    clients: options.clients,
    partition: formatPartitionSpec(spec),
    strategy: options.strategy ?? 'fedavg',
    secagg: options.secagg?.enabled === true,
    dropout: options.dropout ?? 0,
    straggler: delayPlan?.straggler ? formatStragglerSpec(delayPlan.straggler) : null,
    bandwidth: delayPlan?.bandwidth ? formatBandwidthSpec(delayPlan.bandwidth) : null,
    dp: options.dp ? `${options.dp.mode}:sigma=${options.dp.noiseMultiplier},clip=${options.dp.clip},delta=${options.dp.delta}` : null,
    epsilon: strategy instanceof DifferentiallyPrivate ? strategy.epsilon() : null,
    seed: options.seed,
    model: options.model,
    modelVersion: latest.version,
    modelHash: latest.hash,
    dataSource: train.description,
    url,
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    abandonedRounds: coordinator.rounds.filter((r) => r.kind === 'train' && r.status === 'abandoned').length,
  };
  return { summary, history, ...(options.keepServing ? { coordinator } : {}) };
}
