import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { FlockClient, type RoundPhases } from '@flock/client';
import { createPresetModel, selectBackend, type BackendPreference } from '@flock/model';
import { loadFashionMnist, runSimulation, toTensors } from '@flock/sim';
import { machineInfo } from './machine.js';

export interface SdkBenchOptions {
  quick?: boolean;
  backend?: BackendPreference;
}

/**
 * The SDK's cost around training, per model: one client's round versus a bare `model.fit` of
 * the same model on the same data with the same settings, measured alternately in the same
 * process.
 *
 * The SDK's added work is measured directly, from the round report's phase breakdown:
 * `preparedOverheadRatio` = (download + hash check, model preparation and shuffle, delta) / bare
 * fit, i.e. everything from round:start until the update is ready to leave except the fit itself;
 * `overheadRatio` adds the send phase (sealing, the chunked upload, the coordinator's acks).
 * `fitVsBareRatio` checks that the SDK's fit is itself no slower than the bare one. On a shared
 * 2-core VM one fit varies by 10-20 % from one run to the next, so the difference of two medians
 * (`preparedVsBareRatio`, also reported) is mostly that noise at the 5 % level.
 */
export async function* benchSdkOverhead(opts: SdkBenchOptions = {}): AsyncGenerator<Record<string, unknown>> {
  const backend = await selectBackend(opts.backend ?? 'auto');
  // 6000 examples: one client's share when the full training set is split over 10 clients.
  const n = opts.quick ? 1000 : 6000;
  const train = await loadFashionMnist({ split: 'train', limit: n });
  const data = toTensors(train.images, train.labels, undefined);
  const config = { epochs: 1, batchSize: 32, learningRate: 0.05 };
  for (const model of ['mlp', 'cnn'] as const) {
    // The CNN's fit takes ~10 s here: fewer rounds, and a pause long enough for the bare fit.
    const rounds = opts.quick ? 3 : model === 'cnn' ? 5 : 12;
    const pause = opts.quick ? (model === 'cnn' ? 6 : 2) : model === 'cnn' ? 20 : 4;
    yield await measure(model, rounds, pause, n, data, config, backend.name);
  }
  tf.dispose([data.x, data.y]);
}

async function measure(
  model: 'mlp' | 'cnn',
  rounds: number,
  pauseSeconds: number,
  n: number,
  data: { x: tf.Tensor; y: tf.Tensor },
  config: { epochs: number; batchSize: number; learningRate: number },
  backendName: string,
): Promise<Record<string, unknown>> {
  // The coordinator runs in its own process, as deployed (its CPU time is not the SDK's), and
  // pauses between rounds: each SDK round is followed by a bare fit in the pause, so both are
  // measured alternately under the same machine conditions. Anonymous (--open) and in memory:
  // authentication costs once per connection, not per round, and a bench must not resume a
  // database left by an earlier run. Updates are still sealed and chunked.
  const coordinator = spawn(
    process.execPath,
    [fileURLToPath(new URL('../../bin/flock.mjs', import.meta.url)), 'coordinator', '--port', '0', '--min-clients', '1', '--rounds', String(rounds + 1), '--lr', String(config.learningRate), '--batch-size', String(config.batchSize), '--model', model, '--seed', '1', '--round-interval', String(pauseSeconds), '--db', ':memory:', '--open'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const lines = createInterface({ input: coordinator.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    lines.on('line', (l) => {
      const m = JSON.parse(l) as { event?: string; url?: string };
      if (m.event === 'listening') resolve(m.url!);
    });
    coordinator.once('exit', (code) => reject(new Error(`flock coordinator exited with ${code}`)));
  });
  const done = new Promise<void>((resolve) => lines.on('line', (l) => (JSON.parse(l) as { event?: string }).event === 'done' && resolve()));
  const client = new FlockClient({ url, clientId: 'bench', model: () => createPresetModel(model), data, seed: 1 });
  const sdkSeconds: number[] = [];
  const preparedSeconds: number[] = [];
  const phases: RoundPhases[] = [];
  const bareSeconds: number[] = [];
  const bareFit = async (): Promise<void> => {
    const m = createPresetModel(model);
    m.compile({ optimizer: tf.train.sgd(config.learningRate), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const t0 = performance.now();
    // No shuffling: the baseline is the bare training cost; the SDK's own shuffle counts as overhead.
    await m.fit(data.x, data.y, { epochs: config.epochs, batchSize: config.batchSize, shuffle: false, verbose: 0 });
    bareSeconds.push((performance.now() - t0) / 1000);
    m.optimizer?.dispose();
    m.dispose();
  };
  let chain = Promise.resolve();
  let roundStartedAt = 0;
  try {
    await bareFit(); // warm-up of the bare path
    client.on('round:start', () => (roundStartedAt = performance.now()));
    client.on('update', () => preparedSeconds.push((performance.now() - roundStartedAt) / 1000));
    client.on('round:report', (r) => {
      sdkSeconds.push(r.seconds);
      phases.push(r.phases);
      chain = chain.then(bareFit); // runs in the coordinator's pause before the next round
    });
    await client.start();
    await done;
    await chain;
    await client.stop();
  } finally {
    coordinator.kill('SIGTERM');
  }
  // The first SDK round and the first bare fit are warm-ups (kernel compilation, caches).
  const median = (a: number[]): number => {
    const s = a.slice(1).sort((x, y) => x - y);
    return s[Math.floor(s.length / 2)]!;
  };
  const sdk = median(sdkSeconds);
  const prepared = median(preparedSeconds);
  const bare = median(bareSeconds);
  const outsideFit = median(phases.map((p) => p.download + p.prepare + p.delta));
  const send = median(phases.map((p) => p.send));
  const fit = median(phases.map((p) => p.fit));
  const medianOf = (k: keyof RoundPhases): number => median(phases.map((p) => p[k]));
  // bareSeconds[0] is the warm-up before the first round; bareSeconds[i + 1] follows SDK round i.
  const pairedFitRatio = median(phases.map((p, i) => p.fit / (bareSeconds[i + 1] ?? NaN)).filter(Number.isFinite));
  return {
    bench: 'sdk-overhead',
    model,
    backend: backendName,
    examples: n,
    rounds,
    sdkRoundSeconds: sdk,
    sdkPreparedSeconds: prepared,
    bareFitSeconds: bare,
    sdkFitSeconds: fit,
    /** medians of the SDK's phases (seconds) */
    phases: { download: medianOf('download'), prepare: medianOf('prepare'), fit, delta: medianOf('delta'), send },
    /** the SDK's work until the update is ready (download, preparation and shuffle, delta) / bare fit; target <= 0.05 */
    preparedOverheadRatio: outsideFit / bare,
    preparedOverheadMillis: Math.round(outsideFit * 1000),
    /** the same plus the send phase (sealing, chunked upload, acks) */
    overheadRatio: (outsideFit + send) / bare,
    overheadMillis: Math.round((outsideFit + send) * 1000),
    /** the SDK's fit (permuted copy of the data, reused model) / the bare fit right after it: median of the paired ratios */
    fitVsBareRatio: pairedFitRatio,
    /** difference of medians (noise-dominated at the 5 % level; see the doc comment) */
    preparedVsBareRatio: (prepared - bare) / bare,
    roundVsBareRatio: (sdk - bare) / bare,
    baseline: 'bare model.fit (no shuffle) on the same data in the same process, alternating with the SDK rounds (medians of the rounds after the first); coordinator in a separate process',
    machine: machineInfo(),
  };
}

/**
 * A 10-client simulation's training throughput with the clients on 1 and on 2 worker
 * threads (same seed, so the same final model), for the MLP and the CNN.
 */
export async function* benchSimWorkers(opts: SdkBenchOptions = {}): AsyncGenerator<Record<string, unknown>> {
  for (const model of ['mlp', 'cnn'] as const) {
    const results: Record<number, number> = {};
    for (const workers of [1, 2]) {
      const rounds = 3;
      const { history, summary } = await runSimulation({ clients: 10, rounds, partition: 'iid', seed: 1, model, workers, backend: opts.backend ?? 'auto', learningRate: 0.05 });
      // Round 1 includes worker start-up and kernel warm-up: measure the steady rounds.
      const steady = history.slice(1);
      const examples = 8000; // the shipped subset's training split, all clients selected
      const seconds = steady.reduce((a, r) => a + r.seconds, 0);
      const samplesPerSecond = (examples * steady.length) / seconds;
      results[workers] = samplesPerSecond;
      yield {
        bench: 'sim-workers',
        model,
        backend: summary.backend,
        clients: 10,
        workers,
        roundsMeasured: steady.length,
        samplesPerSecond,
        ...(workers > 1 ? { speedupVsOneWorker: samplesPerSecond / results[1]! } : {}),
        modelHash: summary.modelHash,
        baseline: 'the same simulation with --workers 1, same run',
        machine: machineInfo(),
      };
    }
  }
}
