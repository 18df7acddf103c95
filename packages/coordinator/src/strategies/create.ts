import { z } from 'zod';
import { FedAvg, type Strategy } from '../strategy.js';
import { StrategyConfigError } from './errors.js';
import { FedAdagrad } from './fedadagrad.js';
import { FedAdam } from './fedadam.js';
import { FedAvgM } from './fedavgm.js';
import { FedProx } from './fedprox.js';
import { FedYogi } from './fedyogi.js';
import { FedMedian } from './median.js';
import { FedTrimmedMean } from './trimmed-mean.js';

/** Every strategy `createStrategy` knows, by its spec name. */
export const STRATEGY_NAMES = ['fedavg', 'fedprox', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad', 'median', 'trimmed-mean'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** One tunable parameter of a strategy spec. */
export interface StrategyParameter {
  default: number;
  /** Inclusive lower bound. */
  min?: number;
  /** Exclusive lower bound. */
  above?: number;
  /** Exclusive upper bound. */
  below?: number;
  description: string;
}

const eta = (d: number): StrategyParameter => ({ default: d, above: 0, description: 'server learning rate' });
const beta1 = (d: number): StrategyParameter => ({ default: d, min: 0, below: 1, description: 'first-moment (momentum) decay' });
const beta2 = (d: number): StrategyParameter => ({ default: d, min: 0, below: 1, description: 'second-moment decay' });
const tau = (d: number): StrategyParameter => ({ default: d, above: 0, description: 'adaptivity: offset added to sqrt(v)' });
const v0: StrategyParameter = { default: 0, min: 0, description: 'initial value of the second-moment buffer v' };

/** The parameters each strategy accepts, with defaults and bounds (for help texts and validation). */
export const STRATEGY_PARAMETERS: { readonly [K in StrategyName]: Readonly<Record<string, StrategyParameter>> } = {
  fedavg: {},
  fedprox: { mu: { default: 0.01, min: 0, description: 'proximal coefficient mu (0 = FedAvg)' } },
  fedavgm: { eta: eta(1), momentum: { default: 0.9, min: 0, below: 1, description: 'server momentum' } },
  fedadam: { eta: eta(FedAdam.defaults.eta), beta1: beta1(FedAdam.defaults.beta1), beta2: beta2(FedAdam.defaults.beta2), tau: tau(FedAdam.defaults.tau), initialAccumulator: v0 },
  fedyogi: { eta: eta(FedYogi.defaults.eta), beta1: beta1(FedYogi.defaults.beta1), beta2: beta2(FedYogi.defaults.beta2), tau: tau(FedYogi.defaults.tau), initialAccumulator: v0 },
  fedadagrad: { eta: eta(FedAdagrad.defaults.eta), beta1: beta1(FedAdagrad.defaults.beta1), tau: tau(FedAdagrad.defaults.tau), initialAccumulator: v0 },
  median: {},
  'trimmed-mean': { beta: { default: 0.1, min: 0, below: 0.5, description: 'fraction trimmed from each end per coordinate' } },
};

/** Other spellings accepted for a name (case and `_` versus `-` are ignored anyway). */
const ALIASES: Record<string, StrategyName> = {
  fedmedian: 'median',
  'coordinate-median': 'median',
  trimmedmean: 'trimmed-mean',
  fedtrimmedavg: 'trimmed-mean',
  'fedtrimmed-mean': 'trimmed-mean',
};

function parameterSchema(name: string, p: StrategyParameter): z.ZodType<number> {
  let s = z.number({ error: `${name} must be a number` }).refine(Number.isFinite, `${name} must be finite`);
  if (p.min !== undefined) s = s.refine((v) => v >= p.min!, `${name} must be >= ${p.min}`);
  if (p.above !== undefined) s = s.refine((v) => v > p.above!, `${name} must be > ${p.above}`);
  if (p.below !== undefined) s = s.refine((v) => v < p.below!, `${name} must be < ${p.below}`);
  return s;
}

const schemas = Object.fromEntries(
  STRATEGY_NAMES.map((n) => [n, z.strictObject(Object.fromEntries(Object.entries(STRATEGY_PARAMETERS[n]).map(([k, p]) => [k, parameterSchema(k, p).optional()])))]),
) as unknown as Record<StrategyName, z.ZodType<Record<string, number | undefined>>>;

/** A parsed, validated strategy spec. */
export interface StrategySpec {
  name: StrategyName;
  params: Record<string, number>;
}

/** `fedadam(eta=0.1, beta1=0.9, ...)`-style listing of every name with its parameters and defaults. */
export function describeStrategies(): string {
  return STRATEGY_NAMES.map((n) => {
    const ps = Object.entries(STRATEGY_PARAMETERS[n]).map(([k, p]) => `${k}=${p.default}`);
    return ps.length ? `${n}:${ps.join(',')}` : n;
  }).join(' | ');
}

function invalid(message: string, details?: Record<string, unknown>): StrategyConfigError {
  return new StrategyConfigError('STRATEGY_INVALID', message, details);
}

function resolveName(raw: string): StrategyName {
  const key = raw.trim().toLowerCase().replace(/_/g, '-');
  if ((STRATEGY_NAMES as readonly string[]).includes(key)) return key as StrategyName;
  const alias = ALIASES[key] ?? ALIASES[key.replace(/-/g, '')];
  if (alias) return alias;
  throw invalid(`unknown strategy "${raw}"; valid names: ${STRATEGY_NAMES.join(', ')}`, { name: raw, valid: [...STRATEGY_NAMES] });
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function parseString(spec: string): { name: string; params: Record<string, unknown> } {
  const text = spec.trim();
  if (text === '') throw invalid(`empty strategy spec; valid names: ${STRATEGY_NAMES.join(', ')}`);
  const colon = text.indexOf(':');
  const name = colon < 0 ? text : text.slice(0, colon);
  const rest = colon < 0 ? '' : text.slice(colon + 1).trim();
  const params: Record<string, unknown> = {};
  if (rest !== '') {
    for (const part of rest.split(',')) {
      const eq = part.indexOf('=');
      const key = (eq < 0 ? part : part.slice(0, eq)).trim();
      const value = eq < 0 ? '' : part.slice(eq + 1).trim();
      if (eq < 0 || key === '' || value === '') throw invalid(`strategy spec "${spec}": expected key=value after the colon, got "${part.trim()}" (e.g. fedadam:eta=0.01,beta1=0.9)`);
      if (key in params) throw invalid(`strategy spec "${spec}": parameter ${key} is given twice`);
      if (!NUMBER.test(value)) throw invalid(`strategy spec "${spec}": ${key}=${value} is not a number`);
      params[key] = Number(value);
    }
  }
  return { name, params };
}

/**
 * Parses and validates a strategy spec without building the strategy. Accepts the CLI form
 * `name[:key=value,...]` (`fedadam:eta=0.01`, `trimmed-mean:beta=0.2`) or an object
 * `{ name: 'fedadam', eta: 0.01 }`. Throws StrategyConfigError (code STRATEGY_INVALID) whose
 * message lists the valid names or the valid parameters of the named strategy.
 */
export function parseStrategySpec(spec: string | object): StrategySpec {
  let rawName: unknown;
  let rawParams: Record<string, unknown>;
  if (typeof spec === 'string') {
    const p = parseString(spec);
    rawName = p.name;
    rawParams = p.params;
  } else if (spec !== null && typeof spec === 'object' && !Array.isArray(spec)) {
    const { name, ...rest } = spec as Record<string, unknown>;
    rawName = name;
    rawParams = rest;
  } else {
    throw new TypeError(`spec must be a string like "fedadam:eta=0.01" or an object like { name: 'fedadam', eta: 0.01 }; got ${spec === null ? 'null' : Array.isArray(spec) ? 'an array' : typeof spec}`);
  }
  if (typeof rawName !== 'string') throw invalid(`strategy spec needs a name (string); valid names: ${STRATEGY_NAMES.join(', ')}`);
  const name = resolveName(rawName);
  const known = STRATEGY_PARAMETERS[name];
  const validList = Object.keys(known).length ? Object.entries(known).map(([k, p]) => `${k} (${p.description}, default ${p.default})`).join(', ') : 'none';
  const unknown = Object.keys(rawParams).filter((k) => !(k in known));
  if (unknown.length) {
    throw invalid(`strategy ${name} has no parameter ${unknown.map((k) => `"${k}"`).join(', ')}; valid parameters: ${validList}`, { name, unknown, valid: Object.keys(known) });
  }
  const parsed = schemas[name].safeParse(rawParams);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => i.message).join('; ');
    throw invalid(`strategy ${name}: ${issues} (valid parameters: ${validList})`, { name, issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
  }
  const params: Record<string, number> = {};
  for (const [k, v] of Object.entries(parsed.data)) if (v !== undefined) params[k] = v;
  return { name, params };
}

/**
 * Builds a strategy from a spec (see `parseStrategySpec`):
 *
 *     createStrategy('fedavgm:momentum=0.9')
 *     createStrategy({ name: 'fedadam', eta: 0.01 })
 *
 * Parameters left out take the defaults listed in STRATEGY_PARAMETERS.
 */
export function createStrategy(spec: string | object): Strategy {
  const { name, params } = parseStrategySpec(spec);
  switch (name) {
    case 'fedavg':
      return new FedAvg();
    case 'fedprox':
      return new FedProx(params);
    case 'fedavgm':
      return new FedAvgM(params);
    case 'fedadam':
      return new FedAdam(params);
    case 'fedyogi':
      return new FedYogi(params);
    case 'fedadagrad':
      return new FedAdagrad(params);
    case 'median':
      return new FedMedian();
    case 'trimmed-mean':
      return new FedTrimmedMean(params);
  }
}
