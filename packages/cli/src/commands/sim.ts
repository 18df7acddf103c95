import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Command } from 'commander';
import { BACKEND_PREFERENCES, MODEL_PRESETS, type BackendPreference, type ModelPreset } from '@flock/model';
import { explicitFlagNames, formatPartitionSummary, loadSimConfig, mergeConfig, parseBandwidthSpec, parsePartitionSpec, parseStragglerSpec, RunDirError, RunRecorder, runSimulation, SimConfigError, type SimulationOptions } from '@flock/sim';
import { createStrategy } from '@flock/coordinator';
import { computeSigma } from '@flock/privacy';
import { err, out, UsageError } from '../output.js';
import { int, num, oneOf } from '../parse.js';
import { simulationProgress } from '../progress.js';

export interface SimFlags {
  clients: number;
  rounds: number;
  partition: string;
  seed: number;
  model: ModelPreset;
  strategy: string;
  secagg?: boolean;
  secaggK?: number;
  secaggT?: number;
  dropout?: number;
  straggler?: string;
  bandwidth?: string;
  dp?: 'central' | 'local' | 'distributed';
  noiseMultiplier?: number;
  epsilon?: number;
  delta: number;
  clip: number;
  adaptiveClip?: number;
  data?: string;
  backend: BackendPreference;
  epochs: number;
  batchSize: number;
  lr: number;
  momentum?: number;
  fraction: number;
  timeout: number;
  trainLimit?: number;
  testLimit?: number;
  workers: number;
  json?: boolean;
  quiet?: boolean;
}

/** Options shared by `flock sim` and `flock demo`. */
export function addSimOptions(cmd: Command, defaults: Partial<SimFlags>): Command {
  return cmd
    .option('--clients <n>', 'number of simulated clients', int(1, 100_000), defaults.clients ?? 10)
    .option('--rounds <n>', 'training rounds', int(1, 100_000), defaults.rounds ?? 10)
    .option('--partition <spec>', 'data split: iid, dirichlet:ALPHA, shards:C, quantity:ALPHA', defaults.partition ?? 'iid')
    .option('--seed <n>', 'seed for the split, sampling and initial model', int(0), defaults.seed ?? 1)
    .option('--model <preset>', `model preset: ${MODEL_PRESETS.join(', ')}`, oneOf(MODEL_PRESETS), defaults.model ?? 'mlp')
    .option('--data <dir>', 'Fashion-MNIST directory (default: $FLOCK_DATA, /usr/share/datasets/fashion-mnist, then the shipped subset)')
    .option('--strategy <spec>', 'fedavg, fedavgm, fedadam, fedyogi, fedadagrad, fedprox, median, trimmed-mean; parameters as name:key=value,...', defaults.strategy ?? 'fedavg')
    .option('--secagg', 'secure aggregation (SecAgg+): the coordinator only sees the masked sum')
    .option('--secagg-k <k>', 'SecAgg+ neighbourhood size (default: derived from the cohort, Bell et al. 2020)', int(2, 255))
    .option('--secagg-t <t>', 'SecAgg+ threshold (default: derived, a strict majority of the real degree)', int(2, 255))
    .option('--dropout <rate>', 'per-round probability that a selected client drops out (at a random SecAgg stage)', num(0, 1))
    .option('--straggler <spec>', 'slow clients, seeded: fixed:MS, uniform:MIN,MAX, exponential:MEAN or lognormal:MEDIAN,SIGMA (ms; 800ms, 2s), optionally ,frac=F of the clients; a straggler slower than --timeout misses the round')
    .option('--bandwidth <spec>', 'bandwidth limits: up=RATE,down=RATE[,sigma=S] with RATE like 1mbit (bits/s); adds the transfer time of the bytes each client moves')
    .option('--dp <mode>', 'differential privacy: central (the coordinator adds the noise), local (every client adds it) or distributed (clients add shares inside --secagg)', oneOf(['central', 'local', 'distributed'] as const))
    .option('--noise-multiplier <sigma>', 'DP noise stddev / clip', num(0, Infinity, true))
    .option('--epsilon <e>', 'DP target epsilon: picks the noise multiplier for --rounds rounds (instead of --noise-multiplier)', num(0, Infinity, true))
    .option('--delta <d>', 'DP delta', num(0, 1, true, true), 1e-5)
    .option('--clip <c>', 'DP: L2 norm each client update is clipped to (the starting clip with --adaptive-clip)', num(0, Infinity, true), 1)
    .option('--adaptive-clip <quantile>', 'DP central mode: adapt the clip towards this quantile of update norms (e.g. 0.5)', num(0, 1))
    .option('--backend <name>', `tfjs backend: ${BACKEND_PREFERENCES.join(', ')}`, oneOf(BACKEND_PREFERENCES), 'auto')
    .option('--epochs <n>', 'local epochs per round', int(1, 1000), defaults.epochs ?? 1)
    .option('--batch-size <n>', 'local batch size', int(1, 65536), defaults.batchSize ?? 32)
    .option('--lr <rate>', 'client learning rate', num(0, Infinity, true), defaults.lr ?? 0.1)
    .option('--momentum <m>', 'client SGD momentum (0-1)', num(0, 1))
    .option('--fraction <f>', 'fraction of clients per round', num(0, 1, true), 1)
    .option('--timeout <seconds>', 'round deadline; with --dropout every round waits for it, so keep it a little above one round of training', num(1), 120)
    .option('--train-limit <n>', 'use only the first N training examples', int(1))
    .option('--test-limit <n>', 'use only the first N test examples', int(1))
    .option('--workers <n>', 'worker threads training the clients (default: number of cores; 1 = main thread)', int(1, 256), defaults.workers ?? availableParallelism())
    .option('--json', 'print one final JSON summary line on stdout')
    .option('--quiet', 'no progress output');
}

/** The noise multiplier: given, or the smallest one reaching --epsilon over --rounds rounds. */
function dpNoiseMultiplier(f: SimFlags): number {
  if ((f.noiseMultiplier === undefined) === (f.epsilon === undefined)) throw new UsageError('--dp needs exactly one of --noise-multiplier and --epsilon');
  if (f.noiseMultiplier !== undefined) return f.noiseMultiplier;
  // Under --dp clients are Poisson-sampled with q = --fraction.
  const q = f.fraction;
  return computeSigma({ epsilon: f.epsilon!, q, steps: f.rounds, delta: f.delta }).sigma;
}

export function simOptionsFrom(f: SimFlags): SimulationOptions {
  try {
    parsePartitionSpec(f.partition);
  } catch (e) {
    throw new UsageError(`--partition: ${(e as Error).message}`);
  }
  for (const [flag, value, parse] of [
    ['--straggler', f.straggler, parseStragglerSpec],
    ['--bandwidth', f.bandwidth, parseBandwidthSpec],
  ] as const) {
    if (value === undefined) continue;
    try {
      parse(value);
    } catch (e) {
      throw new UsageError(`${flag}: ${(e as Error).message}`);
    }
  }
  if (f.dp === 'distributed' && !f.secagg) throw new UsageError('--dp distributed adds its noise inside secure aggregation: add --secagg');
  // A --data path that does not exist is a mistyped flag (exit 2), as for flock client.
  if (f.data !== undefined && !existsSync(f.data)) throw new UsageError(`--data ${f.data} does not exist (give a directory holding the four Fashion-MNIST IDX files, or leave --data out to use the shipped subset)`);
  try {
    createStrategy(f.strategy);
  } catch (e) {
    throw new UsageError(`--strategy: ${(e as Error).message}`);
  }
  return {
    clients: f.clients,
    rounds: f.rounds,
    partition: f.partition,
    seed: f.seed,
    model: f.model,
    strategy: f.strategy,
    ...(f.secagg ? { secagg: { enabled: true, ...(f.secaggK ? { k: f.secaggK } : {}), ...(f.secaggT ? { t: f.secaggT } : {}) } } : {}),
    ...(f.dropout ? { dropout: f.dropout } : {}),
    ...(f.straggler !== undefined ? { straggler: f.straggler } : {}),
    ...(f.bandwidth !== undefined ? { bandwidth: f.bandwidth } : {}),
    ...(f.dp ? { dp: { mode: f.dp, noiseMultiplier: dpNoiseMultiplier(f), clip: f.clip, delta: f.delta, ...(f.adaptiveClip !== undefined ? { adaptiveClipQuantile: f.adaptiveClip } : {}) } } : {}),
    ...(f.data ? { dataDir: f.data } : {}),
    backend: f.backend,
    epochs: f.epochs,
    batchSize: f.batchSize,
    learningRate: f.lr,
    ...(f.momentum !== undefined ? { momentum: f.momentum } : {}),
    fraction: f.fraction,
    workers: f.workers,
    roundTimeoutMs: Math.round(f.timeout * 1000),
    ...(f.trainLimit ? { trainLimit: f.trainLimit } : {}),
    ...(f.testLimit ? { testLimit: f.testLimit } : {}),
  };
}

export function simCommand(): Command {
  const cmd = addSimOptions(new Command('sim').description('simulate a federation: one coordinator and N clients over socket.io on loopback'), {})
    .option('--config <file>', 'read settings from a JSON file (keys: camelCase flag names); flags typed here win')
    .option('--out [dir]', 'record the run (config, metrics.jsonl, summary, plots) in DIR; without DIR in runs/<time>-sim-s<seed>');
  return cmd.action(async (cliFlags: SimFlags & { config?: string; out?: string | true }, command: Command) => {
    let f = cliFlags;
    if (cliFlags.config !== undefined) {
      try {
        f = mergeConfig(await loadSimConfig(cliFlags.config), cliFlags, explicitFlagNames(command));
      } catch (e) {
        if (e instanceof SimConfigError) throw new UsageError(e.message);
        throw e;
      }
    }
    const opts = simOptionsFrom(f);
    let recorder: RunRecorder | undefined;
    if (f.out !== undefined) {
      try {
        recorder = await RunRecorder.create(f.out, { label: `sim-s${f.seed}` });
      } catch (e) {
        if (e instanceof RunDirError) throw new UsageError(e.message);
        throw e;
      }
      recorder.writeConfig(f);
    }
    const progress = simulationProgress(f.rounds, f.quiet === true);
    let result;
    try {
      result = await runSimulation({
        ...opts,
        onProgress: (e) => {
          if (e.type === 'setup' && !f.quiet && !f.json) err(formatPartitionSummary(e.partition));
          recorder?.onProgress(e);
          progress.onProgress(e);
        },
      });
    } catch (e) {
      progress.stop();
      await recorder?.fail(e);
      throw e;
    }
    progress.stop();
    const s = result.summary;
    const recorded = await recorder?.finish(s);
    for (const w of recorded?.warnings ?? []) err(`flock: warning: ${w}`);
    if (f.json) out(JSON.stringify(recorded ? { ...s, runDir: recorded.dir } : s));
    else {
      out(`accuracy ${s.accuracy.toFixed(4)} after ${s.rounds} rounds (${s.wallSeconds}s, backend ${s.backend}); model v${s.modelVersion} ${s.modelHash.slice(0, 12)}`);
      if (recorded) out(`run directory: ${recorded.dir}`);
    }
  });
}
