/**
 * `flock sim --config FILE.json`: an experiment written down as a file. Every key is the
 * camelCase name of a `flock sim` flag and means exactly what the flag means (relative paths
 * resolve against the working directory, as on the command line). Precedence:
 * flags typed on the command line > the config file > the flags' defaults.
 */
import { readFile, stat } from 'node:fs/promises';
import { z } from 'zod';
import { BACKEND_PREFERENCES, MODEL_PRESETS, type BackendPreference, type ModelPreset } from '@flock/model';
import { parsePartitionSpec } from '../partition/index.js';
import { parseBandwidthSpec, parseStragglerSpec } from '../delays.js';
import { parseJsonConfig } from './json-config.js';

export { jsonErrorLocation } from './json-config.js';

/** An error in a config file: missing, not JSON, or a key with a bad value. */
export class SimConfigError extends Error {
  override name = 'SimConfigError';
  readonly code = 'CONFIG_INVALID';
  constructor(
    message: string,
    /** The file it came from. */
    readonly path?: string,
  ) {
    super(message);
  }
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);

/**
 * Keys reserved for features whose config keys are not typed yet (secure aggregation,
 * differential privacy, dropout). They are accepted with loose types so that config files can
 * carry them; each gets a precise schema later.
 */
const loose = z.union([z.string(), z.number(), z.boolean(), z.record(z.string(), z.unknown())]);

/** A spec string checked by its parser (the parser's message is the error). */
const specString = (parse: (s: string) => unknown) =>
  z.string().superRefine((s, ctx) => {
    try {
      parse(s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  });

/** The schema of a `flock sim` config file. Unknown keys are errors (typos must not pass silently). */
export const simConfigFileSchema = z
  .object({
    /** Number of simulated clients (`--clients`). */
    clients: int(1, 100_000),
    /** Training rounds (`--rounds`). */
    rounds: int(1, 100_000),
    /** Data split (`--partition`): iid, dirichlet:ALPHA, shards:C, quantity:ALPHA. */
    partition: z.string().superRefine((s, ctx) => {
      try {
        parsePartitionSpec(s);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
      }
    }),
    /** Seed for the split, sampling and initial model (`--seed`). */
    seed: int(0),
    /** Model preset (`--model`). */
    model: z.enum(MODEL_PRESETS as [ModelPreset, ...ModelPreset[]]),
    /** Fashion-MNIST directory (`--data`). */
    data: z.string().min(1),
    /** tfjs backend (`--backend`). */
    backend: z.enum(BACKEND_PREFERENCES as [BackendPreference, ...BackendPreference[]]),
    /** Local epochs per round (`--epochs`). */
    epochs: int(1, 1000),
    /** Local batch size (`--batch-size`). */
    batchSize: int(1, 65536),
    /** Client learning rate (`--lr`). */
    lr: z.number().positive().finite(),
    /** Client SGD momentum, 0-1 (`--momentum`). */
    momentum: z.number().min(0).max(1),
    /** Fraction of clients per round, in (0, 1] (`--fraction`). */
    fraction: z.number().positive().max(1),
    /** Round deadline in seconds (`--timeout`). */
    timeout: z.number().min(1).finite(),
    /** Use only the first N training examples (`--train-limit`). */
    trainLimit: int(1),
    /** Use only the first N test examples (`--test-limit`). */
    testLimit: int(1),
    /** Worker threads training the clients (`--workers`). */
    workers: int(1, 256),
    /** Run directory (`--out DIR`); `true` records into a new runs/<timestamp>-... directory. */
    out: z.union([z.string().min(1), z.literal(true)]),
    /** Aggregation strategy spec (`--strategy`), e.g. `fedavg`, `fedprox:mu=0.01`. */
    strategy: z.string().min(1),
    /** Stragglers (`--straggler`), e.g. `lognormal:800ms,0.5,frac=0.2`. */
    straggler: specString(parseStragglerSpec),
    /** Bandwidth limits (`--bandwidth`), e.g. `up=1mbit,down=10mbit`. */
    bandwidth: specString(parseBandwidthSpec),
    // Reserved; loose types until they get precise ones.
    secagg: loose,
    dp: loose,
    dropout: loose,
    /** SecAgg+ neighbourhood size (`--secagg-k`). */
    secaggK: int(2, 255),
    /** SecAgg+ threshold (`--secagg-t`). */
    secaggT: int(2, 255),
    /** DP noise multiplier (`--noise-multiplier`). */
    noiseMultiplier: z.number().positive().finite(),
    /** DP target epsilon (`--epsilon`). */
    epsilon: z.number().positive().finite(),
    /** DP delta, in (0, 1) (`--delta`). */
    delta: z.number().positive().lt(1),
    /** DP L2 clip (`--clip`). */
    clip: z.number().positive().finite(),
    /** DP adaptive clip quantile, 0-1 (`--adaptive-clip`). */
    adaptiveClip: z.number().min(0).max(1),
  })
  .partial()
  .strict();

/** A parsed config file: any subset of the `flock sim` flags. */
export type SimConfigFile = z.infer<typeof simConfigFileSchema>;

/** The keys a config file may hold, in the order `flock sim --help` lists the flags. */
export const SIM_CONFIG_KEYS: readonly (keyof SimConfigFile)[] = Object.keys(simConfigFileSchema.shape) as (keyof SimConfigFile)[];

/** The flag a key stands for: batchSize -> --batch-size. */
export function flagOfKey(key: string): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/**
 * Parses and checks the text of a config file. `source` names it in error messages.
 * @throws SimConfigError naming every bad key.
 */
export function parseSimConfig(text: string, source = 'config'): SimConfigFile {
  if (typeof text !== 'string') throw new TypeError('config text must be a string');
  return parseJsonConfig(text, source, simConfigFileSchema, {
    example: '{"clients": 10, "rounds": 5}',
    flagOf: (key) => ((SIM_CONFIG_KEYS as readonly string[]).includes(key) ? flagOfKey(key) : undefined),
    error: (message) => new SimConfigError(message, source),
  });
}

/**
 * Reads a `flock sim --config` file.
 * @throws SimConfigError when the file is missing, unreadable, not JSON or has a bad key.
 */
export async function loadSimConfig(path: string): Promise<SimConfigFile> {
  if (typeof path !== 'string' || path.trim() === '') throw new TypeError('config path must be a non-empty string');
  let text: string;
  try {
    if ((await stat(path)).isDirectory()) throw new SimConfigError(`config file ${path} is a directory; expected a JSON file`, path);
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (e instanceof SimConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SimConfigError(`config file not found: ${path}`, path);
    throw new SimConfigError(`cannot read config file ${path}: ${(e as Error).message}`, path);
  }
  return parseSimConfig(text, path);
}

/**
 * Combines a config file with the parsed flags: a flag typed on the command line wins, then
 * the file, then the flag's default (already in `cliFlags`). `explicitlySetFlagNames` are the
 * camelCase names of the typed flags; with commander:
 * `cmd.options.map((o) => o.attributeName()).filter((n) => cmd.getOptionValueSource(n) === 'cli')`
 * (see {@link explicitFlagNames}).
 */
export function mergeConfig<T extends object>(fileConfig: Partial<SimConfigFile>, cliFlags: T, explicitlySetFlagNames: Iterable<string>): T & Partial<SimConfigFile> {
  if (fileConfig === null || typeof fileConfig !== 'object') throw new TypeError('fileConfig must be an object (from loadSimConfig)');
  if (cliFlags === null || typeof cliFlags !== 'object') throw new TypeError('cliFlags must be an object');
  const explicit = new Set(explicitlySetFlagNames);
  const merged: Record<string, unknown> = { ...(cliFlags as Record<string, unknown>) };
  for (const [key, value] of Object.entries(fileConfig)) {
    if (value !== undefined && !explicit.has(key)) merged[key] = value;
  }
  return merged as T & Partial<SimConfigFile>;
}

/** The parts of a commander Command that {@link explicitFlagNames} uses. */
export interface CommandLike {
  options: readonly { attributeName(): string }[];
  getOptionValueSource(key: string): string | undefined;
}

/** camelCase names of the options typed on the command line (or set from the environment). */
export function explicitFlagNames(cmd: CommandLike): string[] {
  return cmd.options.map((o) => o.attributeName()).filter((n) => {
    const src = cmd.getOptionValueSource(n);
    return src === 'cli' || src === 'env';
  });
}
