/**
 * Injected slowness for simulations: stragglers (extra compute time per round, drawn from a
 * distribution) and bandwidth limits (transfer time of the bytes a client really downloads and
 * uploads). Every delay is drawn from the simulation seed, per (client, round): the same seed
 * gives the same delays on the main thread or in any number of worker threads.
 *
 * Spec strings (`flock sim --straggler SPEC --bandwidth SPEC`):
 *
 *   straggler := DIST ':' ARG (',' ARG)*           ARG := VALUE | NAME '=' VALUE
 *     fixed:MS                  names: ms
 *     uniform:MIN,MAX           names: min, max
 *     exponential:MEAN          names: mean
 *     lognormal:MEDIAN,SIGMA    names: median, sigma (sigma of the log; 0 = fixed)
 *     frac=F                    named only: the fraction of clients that straggle (default 1)
 *   durations are milliseconds; a suffix `ms` or `s` is allowed (800, 800ms, 0.8s)
 *
 *   bandwidth := ITEM (',' ITEM)*    ITEM := up=RATE | down=RATE | sigma=S
 *     RATE: a number and a unit of bits per second: bit, kbit, mbit, gbit (or bps, kbps,
 *     mbps, gbps; decimal: 1mbit = 1,000,000 bit/s). A direction left out is unlimited.
 *     sigma: per (client, round) lognormal spread of the rates around the given medians
 *     (default 0: every client gets exactly the given rates).
 *
 * Bandwidth models transfer time only (delay = bytes / rate), not packet loss, latency or
 * contention between clients.
 */
import { z } from 'zod';
import { defaultPlatform, type ClientPlatform } from '@flock/client';
import { createRng, type Rng } from './rng.js';

export type DelayDistribution =
  | { dist: 'fixed'; ms: number }
  | { dist: 'uniform'; minMs: number; maxMs: number }
  | { dist: 'exponential'; meanMs: number }
  | { dist: 'lognormal'; medianMs: number; sigma: number };

/** Stragglers: a fraction of the clients gets an extra compute delay every round. */
export type StragglerSpec = DelayDistribution & { frac: number };

/** Bandwidth limits in bits per second (undefined: unlimited), spread by sigma. */
export interface BandwidthSpec {
  upBps?: number;
  downBps?: number;
  sigma: number;
}

const MAX_MS = 86_400_000; // one day: anything longer is a typo
const ms = (name: string) => z.number({ error: `${name} must be a number` }).finite(`${name} must be finite`).min(0, `${name} must be >= 0 ms`).max(MAX_MS, `${name} must be at most ${MAX_MS} ms (one day)`);
const frac = z.number().gt(0, 'frac must be > 0').max(1, 'frac must be <= 1');

/** zod schema of a StragglerSpec object. */
export const StragglerSpecSchema = z.discriminatedUnion('dist', [
  z.object({ dist: z.literal('fixed'), ms: ms('ms'), frac }).strict(),
  z
    .object({ dist: z.literal('uniform'), minMs: ms('min'), maxMs: ms('max'), frac })
    .strict()
    .refine((s) => s.maxMs >= s.minMs, { message: 'max must be >= min' }),
  z.object({ dist: z.literal('exponential'), meanMs: ms('mean').gt(0, 'mean must be > 0 ms'), frac }).strict(),
  z.object({ dist: z.literal('lognormal'), medianMs: ms('median').gt(0, 'median must be > 0 ms'), sigma: z.number().finite().min(0, 'sigma must be >= 0').max(10, 'sigma must be <= 10'), frac }).strict(),
]);

const rate = (name: string) => z.number().finite(`${name} must be finite`).gt(0, `${name} must be > 0`);

/** zod schema of a BandwidthSpec object. */
export const BandwidthSpecSchema = z
  .object({ upBps: rate('up').optional(), downBps: rate('down').optional(), sigma: z.number().finite().min(0, 'sigma must be >= 0').max(10, 'sigma must be <= 10') })
  .strict()
  .refine((b) => b.upBps !== undefined || b.downBps !== undefined, { message: 'give up=RATE, down=RATE or both' });

export const STRAGGLER_FORMS: readonly string[] = [
  'fixed:MS                 (every round the same extra delay, e.g. fixed:2s)',
  'uniform:MIN,MAX          (uniform between MIN and MAX, e.g. uniform:0,3000)',
  'exponential:MEAN         (exponential with mean MEAN, e.g. exponential:800ms)',
  'lognormal:MEDIAN,SIGMA   (lognormal: MEDIAN * exp(SIGMA * N(0,1)), e.g. lognormal:800ms,0.5)',
  '...,frac=F               (only a fraction F of the clients straggle, chosen by the seed; default 1)',
];

const PARAMS: Record<DelayDistribution['dist'], readonly string[]> = {
  fixed: ['ms'],
  uniform: ['min', 'max'],
  exponential: ['mean'],
  lognormal: ['median', 'sigma'],
};

function stragglerError(input: string, why: string): RangeError {
  return new RangeError(`invalid straggler spec '${input}': ${why}. Valid forms:\n  ${STRAGGLER_FORMS.join('\n  ')}`);
}

/** A duration in ms: `800`, `800ms`, `0.8s`. */
function parseDuration(v: string): number {
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*(ms|s)?$/i.exec(v.trim());
  if (!m) throw new Error(`'${v}' is not a duration (milliseconds, or a number with ms or s, e.g. 800, 800ms, 0.8s)`);
  const n = Number(m[1]);
  return m[2]?.toLowerCase() === 's' ? n * 1000 : n;
}

function parseNumber(v: string): number {
  const t = v.trim();
  const n = Number(t);
  if (t === '' || !Number.isFinite(n)) throw new Error(`'${v}' is not a number`);
  return n;
}

function zodMessage(e: z.ZodError): string {
  return e.issues.map((i) => i.message).join('; ');
}

/** Parses a straggler spec (see the module comment), e.g. `lognormal:800ms,0.5,frac=0.2`. */
export function parseStragglerSpec(spec: string): StragglerSpec {
  if (typeof spec !== 'string') throw new TypeError(`straggler spec must be a string like 'lognormal:800,0.5'; got ${typeof spec}`);
  const input = spec.trim();
  const colon = input.indexOf(':');
  if (colon < 0) throw stragglerError(input, input === '' ? 'empty' : `'${input}' needs parameters after a colon`);
  const dist = input.slice(0, colon).trim().toLowerCase();
  if (!(dist in PARAMS)) throw stragglerError(input, `unknown distribution '${dist}'; expected fixed, uniform, exponential or lognormal`);
  const names = PARAMS[dist as DelayDistribution['dist']];
  const values = new Map<string, string>();
  let positional = 0;
  let sawNamed = false;
  for (const raw of input.slice(colon + 1).split(',')) {
    const part = raw.trim();
    if (part === '') throw stragglerError(input, 'empty parameter');
    const eq = part.indexOf('=');
    let name: string;
    let value: string;
    if (eq >= 0) {
      sawNamed = true;
      name = part.slice(0, eq).trim().toLowerCase();
      value = part.slice(eq + 1).trim();
      if (name !== 'frac' && !names.includes(name)) throw stragglerError(input, `unknown parameter '${name}' for ${dist}; it takes ${[...names, 'frac'].join(', ')}`);
    } else {
      if (sawNamed) throw stragglerError(input, `positional parameter '${part}' after a named one`);
      if (positional >= names.length) throw stragglerError(input, `too many parameters; ${dist} takes ${names.map((n) => n.toUpperCase()).join(',')}`);
      name = names[positional++]!;
      value = part;
    }
    if (values.has(name)) throw stragglerError(input, `'${name}' given twice`);
    values.set(name, value);
  }
  const missing = names.filter((n) => !values.has(n));
  if (missing.length > 0) throw stragglerError(input, `${dist} needs ${names.map((n) => n.toUpperCase()).join(',')}; missing ${missing.join(', ')}`);
  let candidate: Record<string, unknown>;
  try {
    const d = (n: string) => parseDuration(values.get(n)!);
    const f = values.has('frac') ? parseNumber(values.get('frac')!) : 1;
    if (dist === 'fixed') candidate = { dist, ms: d('ms'), frac: f };
    else if (dist === 'uniform') candidate = { dist, minMs: d('min'), maxMs: d('max'), frac: f };
    else if (dist === 'exponential') candidate = { dist, meanMs: d('mean'), frac: f };
    else candidate = { dist, medianMs: d('median'), sigma: parseNumber(values.get('sigma')!), frac: f };
  } catch (e) {
    throw stragglerError(input, (e as Error).message);
  }
  const parsed = StragglerSpecSchema.safeParse(candidate);
  if (!parsed.success) throw stragglerError(input, zodMessage(parsed.error));
  return parsed.data;
}

/** The canonical string of a straggler spec, e.g. `lognormal:median=800ms,sigma=0.5,frac=0.2`. */
export function formatStragglerSpec(s: StragglerSpec): string {
  const tail = s.frac < 1 ? `,frac=${s.frac}` : '';
  switch (s.dist) {
    case 'fixed':
      return `fixed:ms=${s.ms}ms${tail}`;
    case 'uniform':
      return `uniform:min=${s.minMs}ms,max=${s.maxMs}ms${tail}`;
    case 'exponential':
      return `exponential:mean=${s.meanMs}ms${tail}`;
    case 'lognormal':
      return `lognormal:median=${s.medianMs}ms,sigma=${s.sigma}${tail}`;
  }
}

const RATE_UNITS: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9, bps: 1, kbps: 1e3, mbps: 1e6, gbps: 1e9 };

/** A rate in bits per second: `10mbit`, `512kbit`, `1.5gbps`. */
export function parseRate(v: string): number {
  const m = /^((?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*([a-z]+)?$/i.exec(v.trim());
  if (!m) throw new Error(`'${v}' is not a rate (a number and a unit, e.g. 10mbit)`);
  if (m[2] === undefined) throw new Error(`'${v}' needs a unit: bit, kbit, mbit or gbit (bits per second), e.g. ${m[1]}mbit`);
  const unit = RATE_UNITS[m[2].toLowerCase()];
  if (unit === undefined) throw new Error(`unknown unit '${m[2]}' in '${v}'; use bit, kbit, mbit or gbit (decimal bits per second)`);
  return Number(m[1]) * unit;
}

function formatRate(bps: number): string {
  for (const [u, f] of [['gbit', 1e9], ['mbit', 1e6], ['kbit', 1e3]] as const) if (bps >= f && Number.isInteger(bps / f)) return `${bps / f}${u}`;
  return `${bps}bit`;
}

function bandwidthError(input: string, why: string): RangeError {
  return new RangeError(`invalid bandwidth spec '${input}': ${why}. Form: up=RATE,down=RATE[,sigma=S] with RATE like 1mbit or 512kbit (bits per second), e.g. up=1mbit,down=10mbit`);
}

/** Parses a bandwidth spec (see the module comment), e.g. `up=1mbit,down=10mbit,sigma=0.5`. */
export function parseBandwidthSpec(spec: string): BandwidthSpec {
  if (typeof spec !== 'string') throw new TypeError(`bandwidth spec must be a string like 'up=1mbit,down=10mbit'; got ${typeof spec}`);
  const input = spec.trim();
  if (input === '') throw bandwidthError(input, 'empty');
  const candidate: Record<string, number> = { sigma: 0 };
  const seen = new Set<string>();
  for (const raw of input.split(',')) {
    const part = raw.trim();
    const eq = part.indexOf('=');
    if (eq < 0) throw bandwidthError(input, `'${part}' is not KEY=VALUE`);
    const key = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (seen.has(key)) throw bandwidthError(input, `'${key}' given twice`);
    seen.add(key);
    try {
      if (key === 'up') candidate.upBps = parseRate(value);
      else if (key === 'down') candidate.downBps = parseRate(value);
      else if (key === 'sigma') candidate.sigma = parseNumber(value);
      else throw new Error(`unknown key '${key}'; expected up, down or sigma`);
    } catch (e) {
      throw bandwidthError(input, (e as Error).message);
    }
  }
  const parsed = BandwidthSpecSchema.safeParse(candidate);
  if (!parsed.success) throw bandwidthError(input, zodMessage(parsed.error));
  return parsed.data;
}

/** The canonical string of a bandwidth spec, e.g. `up=1mbit,down=10mbit`. */
export function formatBandwidthSpec(b: BandwidthSpec): string {
  const parts: string[] = [];
  if (b.upBps !== undefined) parts.push(`up=${formatRate(b.upBps)}`);
  if (b.downBps !== undefined) parts.push(`down=${formatRate(b.downBps)}`);
  if (b.sigma > 0) parts.push(`sigma=${b.sigma}`);
  return parts.join(',');
}

/** One draw of a delay distribution, in ms. */
export function sampleDelayMs(d: DelayDistribution, rng: Rng): number {
  switch (d.dist) {
    case 'fixed':
      return d.ms;
    case 'uniform':
      return d.minMs + (d.maxMs - d.minMs) * rng.float();
    case 'exponential':
      return -d.meanMs * Math.log(rng.floatOpen());
    case 'lognormal':
      return d.medianMs * Math.exp(d.sigma * rng.normal());
  }
}

/** The delays of one client in one round. */
export interface ClientRoundDelay {
  /** Extra compute time, ms (0 for a client that does not straggle). */
  computeMs: number;
  /** Upload and download rates, bits/s (Infinity: unlimited). */
  upBps: number;
  downBps: number;
}

/** Transfer time in ms of `bytes` at `bps` bits per second. */
export function transferMs(bytes: number, bps: number): number {
  return bps === Infinity || bytes <= 0 ? 0 : (bytes * 8 * 1000) / bps;
}

/**
 * The seeded delay plan of a simulation: which clients straggle, and each client's delays in
 * each round. A pure function of (seed, client, round): independent of worker threads and of
 * the order in which anything is asked.
 */
export class DelayPlan {
  readonly straggler: StragglerSpec | undefined;
  readonly bandwidth: BandwidthSpec | undefined;
  /** Indices of the clients that straggle. */
  readonly stragglers: ReadonlySet<number>;
  readonly #root: Rng;

  constructor(options: { seed: number; numClients: number; straggler?: StragglerSpec | string; bandwidth?: BandwidthSpec | string }) {
    if (!Number.isSafeInteger(options.seed)) throw new RangeError('seed must be an integer');
    if (!Number.isSafeInteger(options.numClients) || options.numClients < 1) throw new RangeError('numClients must be a positive integer');
    const s = options.straggler;
    const b = options.bandwidth;
    this.straggler = s === undefined ? undefined : typeof s === 'string' ? parseStragglerSpec(s) : StragglerSpecSchema.parse(s);
    this.bandwidth = b === undefined ? undefined : typeof b === 'string' ? parseBandwidthSpec(b) : BandwidthSpecSchema.parse(b);
    this.#root = createRng(options.seed);
    const n = options.numClients;
    if (!this.straggler) this.stragglers = new Set();
    else if (this.straggler.frac >= 1) this.stragglers = new Set(Array.from({ length: n }, (_, i) => i));
    else {
      const k = Math.min(n, Math.max(1, Math.round(this.straggler.frac * n)));
      this.stragglers = new Set(this.#root.fork('straggler').fork('who').sample(n, k));
    }
  }

  /** The delays of client `index` in coordinator round `round`. */
  at(index: number, round: number): ClientRoundDelay {
    let computeMs = 0;
    if (this.straggler && this.stragglers.has(index)) computeMs = sampleDelayMs(this.straggler, this.#root.fork('straggler').fork(index).fork(round));
    let upBps = Infinity;
    let downBps = Infinity;
    if (this.bandwidth) {
      const { sigma } = this.bandwidth;
      const rng = this.#root.fork('bandwidth').fork(index).fork(round);
      // Both draws always happen, so limiting one direction does not change the other's rates.
      const fUp = Math.exp(sigma * rng.normal());
      const fDown = Math.exp(sigma * rng.normal());
      if (this.bandwidth.upBps !== undefined) upBps = this.bandwidth.upBps * fUp;
      if (this.bandwidth.downBps !== undefined) downBps = this.bandwidth.downBps * fDown;
    }
    return { computeMs, upBps, downBps };
  }

  /** Total injected delay, ms, of client `index` in `round` for the given transfers. */
  totalMs(index: number, round: number, bytesDown: number, bytesUp: number): number {
    const d = this.at(index, round);
    return d.computeMs + transferMs(bytesDown, d.downBps) + transferMs(bytesUp, d.upBps);
  }
}

/** What a round's metrics line says about injected delays. */
export interface RoundDelaySummary {
  /** Selected clients that straggle (have a compute delay). */
  stragglers: number;
  /** Selected clients with an injected delay that did not report (missed the deadline). */
  late: number;
  /** Mean injected delay (compute + transfer of one model download and one update upload), ms, over the selected clients. */
  meanDelayMs: number;
}

/**
 * The delay summary of one round, from the plan: `selected` and `reporters` are client
 * indices, `modelBytes` the size of a download and of an upload. `excused` (e.g. simulated
 * dropouts) are not counted as late.
 */
export function summarizeRoundDelays(plan: DelayPlan, round: number, selected: readonly number[], reporters: ReadonlySet<number>, modelBytes: number, excused: (index: number) => boolean = () => false): RoundDelaySummary {
  let stragglers = 0;
  let late = 0;
  let sum = 0;
  for (const i of selected) {
    const ms = plan.totalMs(i, round, modelBytes, modelBytes);
    sum += ms;
    if (plan.stragglers.has(i)) stragglers++;
    if (ms > 0 && !reporters.has(i) && !excused(i)) late++;
  }
  return { stragglers, late, meanDelayMs: selected.length ? Math.round((sum / selected.length) * 10) / 10 : 0 };
}

/**
 * Applies a DelayPlan to one SDK client: pass `platform` and `delay` into FlockClientOptions
 * (`platform`, `faults.delay`), then `attach(client)`. Downloads are counted through the
 * platform's fetch; the whole delay (compute + download + upload time) is waited for after local
 * training, before the update is sent. The wait ends early when the coordinator closes the
 * round (the client has missed it anyway; the late update is then refused) or on `abort()`.
 */
export class ClientDelays {
  #bytesDown = 0;
  #waits = new Map<number, () => void>();
  #ended: number[] = [];
  #aborted = false;
  readonly platform: ClientPlatform;

  constructor(
    readonly plan: DelayPlan,
    readonly index: number,
    base: ClientPlatform = defaultPlatform,
  ) {
    this.platform = {
      ...base,
      fetch: async (url, init) => {
        const res = await base.fetch(url, init);
        const buf = await res.arrayBuffer();
        this.#bytesDown += buf.byteLength;
        return { ok: res.ok, status: res.status, arrayBuffer: async () => buf, text: async () => new TextDecoder().decode(buf) };
      },
    };
  }

  /** The `faults.delay` hook: waits out this round's injected delay. */
  readonly delay = async (info: { round: number; bytesUp: number }): Promise<void> => {
    const ms = this.plan.totalMs(this.index, info.round, this.#bytesDown, info.bytesUp);
    this.#bytesDown = 0;
    if (ms <= 0 || this.#aborted || this.#ended.includes(info.round)) return;
    const round = info.round;
    await new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        if (this.#waits.get(round) === finish) this.#waits.delete(round);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.#waits.set(round, finish);
    });
  };

  /** Ends waits when the coordinator closes their round. */
  attach(client: { on(event: 'round:end', handler: (e: { round: number }) => void): unknown }): void {
    client.on('round:end', (e) => {
      this.#ended.push(e.round);
      if (this.#ended.length > 8) this.#ended.shift();
      this.#waits.get(e.round)?.();
    });
  }

  /** Ends every wait now and skips later ones (the simulation is stopping). */
  abort(): void {
    this.#aborted = true;
    for (const end of [...this.#waits.values()]) end();
  }
}
