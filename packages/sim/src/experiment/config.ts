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

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest valid key, when one is close: `batch_size` -> `batchSize`. */
function suggestKey(unknown: string): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of SIM_CONFIG_KEYS) {
    const d = norm(k) === norm(unknown) ? 0 : editDistance(unknown.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= Math.max(1, Math.floor(unknown.length / 3)) ? best : undefined;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/** One line per problem, each naming the key (and the flag it stands for). */
function formatIssues(error: z.ZodError, input: Record<string, unknown>): string[] {
  const lines: string[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const hint = suggestKey(key);
        lines.push(`unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}; valid keys: ${SIM_CONFIG_KEYS.join(', ')}`);
      }
      continue;
    }
    const key = String(issue.path[0] ?? '');
    const where = issue.path.map(String).join('.');
    const flag = key && (SIM_CONFIG_KEYS as readonly string[]).includes(key) ? ` (${flagOfKey(key)})` : '';
    const got = issue.path.length === 1 && key in input ? `; got ${describeValue(input[key])}` : '';
    lines.push(`"${where}"${flag}: ${issue.message}${got}`);
  }
  return lines;
}

/**
 * The 1-based line and column of the first syntax error in `text`, found by a small JSON
 * scanner (V8's messages carry a position only for some errors).
 */
export function jsonErrorLocation(text: string): { offset: number; line: number; column: number } | undefined {
  let i = 0;
  const n = text.length;
  class At {
    constructor(readonly offset: number) {}
  }
  const fail = (): never => {
    throw new At(i);
  };
  const ws = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const lit = (word: string) => {
    for (const c of word) {
      if (text[i] !== c) fail();
      i++;
    }
  };
  const str = () => {
    i++; // opening quote
    for (;;) {
      if (i >= n) fail();
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail();
      if (c === 0x5c) {
        i++;
        const e = text[i];
        if (e === 'u') {
          for (let k = 1; k <= 4; k++) {
            if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) {
              i += k;
              fail();
            }
          }
          i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
        else fail();
      } else i++;
    }
  };
  const digits = () => {
    if (!/[0-9]/.test(text[i] ?? '')) fail();
    while (/[0-9]/.test(text[i] ?? '')) i++;
  };
  const num = () => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else digits();
    if (text[i] === '.') (i++, digits());
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      digits();
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        str();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail();
      }
    } else if (c === '"') str();
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) num();
    else if (c === 't') lit('true');
    else if (c === 'f') lit('false');
    else if (c === 'n') lit('null');
    else fail();
  };
  try {
    if (text.charCodeAt(0) === 0xfeff) i = 1;
    value();
    ws();
    if (i < n) fail();
    return undefined;
  } catch (e) {
    if (!(e instanceof At)) throw e;
    const before = text.slice(0, e.offset);
    const line = before.split('\n').length;
    const column = e.offset - before.lastIndexOf('\n');
    return { offset: e.offset, line, column };
  }
}

/**
 * Parses and checks the text of a config file. `source` names it in error messages.
 * @throws SimConfigError naming every bad key.
 */
export function parseSimConfig(text: string, source = 'config'): SimConfigFile {
  if (typeof text !== 'string') throw new TypeError('config text must be a string');
  let raw: unknown;
  try {
    raw = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    const at = jsonErrorLocation(text);
    const where = at ? `:${at.line}:${at.column}` : '';
    const lineText = at ? text.split('\n')[at.line - 1] : undefined;
    const caret = at && lineText !== undefined && lineText.length <= 200 ? `\n  ${lineText.replace(/\t/g, ' ')}\n  ${' '.repeat(Math.max(0, at.column - 1))}^` : '';
    // V8 quotes the source in some messages and gives an offset in others: the caret says both.
    const reason = (e as Error).message.replace(/, .*is not valid JSON$/s, '').replace(/ in JSON at position \d+.*$/s, '');
    throw new SimConfigError(`${source}${where}: invalid JSON: ${reason}${caret}`, source);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new SimConfigError(`${source}: a config file must hold one JSON object like {"clients": 10, "rounds": 5}; got ${describeValue(raw)}`, source);
  }
  const parsed = simConfigFileSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = formatIssues(parsed.error, raw as Record<string, unknown>);
    throw new SimConfigError(`${source}: ${lines.length === 1 ? lines[0] : `${lines.length} problems:\n  ${lines.join('\n  ')}`}`, source);
  }
  return parsed.data;
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
