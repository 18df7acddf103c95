/**
 * Splits a labelled data set among simulated clients (NIID-Bench, Li et al. 2022,
 * "Federated Learning on Non-IID Data Silos: An Experimental Study"). Every example goes to
 * exactly one client. Deterministic for a given (labels, numClients, spec, seed, options).
 */
import { createRng, type Rng } from '../rng.js';
import { formatPartitionSpec, toPartitionSpec, type PartitionSpec } from './spec.js';

export interface PartitionOptions {
  /**
   * dirichlet / quantity: re-sample until every client has at least this many examples
   * (NIID-Bench's min_require_size). Default 10, lowered automatically to half the average
   * client size when that is smaller (with a tiny data set, 10 may be impossible).
   */
  minSize?: number;
  /**
   * dirichlet / quantity: how many proportion draws to try before giving up. Default: as many
   * as fit in about two million Gamma draws (a draw costs classes x clients of them), between
   * 100 and 10,000, so hopeless settings fail in about a second. The data are shuffled once.
   */
  maxTries?: number;
  /**
   * dirichlet only: NIID-Bench's balancing trick - a client that already holds more than
   * examples/clients gets no more examples of later classes. Evens out client sizes but the
   * label shares then no longer follow Dir(alpha) exactly. Default false.
   */
  selfBalancing?: boolean;
}

/** Thrown when the constraints cannot be met (e.g. minSize with a very small alpha). */
export class PartitionError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'PartitionError';
  }
}

const DEFAULT_MIN_SIZE = 10;
/** Default number of proportion draws: ~2e6 Gamma samples in total, clamped to [100, 10000]. */
function defaultMaxTries(drawsPerTry: number): number {
  return Math.max(100, Math.min(10_000, Math.ceil(2_000_000 / Math.max(1, drawsPerTry))));
}

/** Indices of each class, in index order, keyed by label value (only labels present). */
function indicesByClass(labels: Uint8Array): Map<number, Uint32Array> {
  const counts = new Uint32Array(256);
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]!++;
  const out = new Map<number, Uint32Array>();
  const fill = new Uint32Array(256);
  for (let c = 0; c < 256; c++) if (counts[c]! > 0) out.set(c, new Uint32Array(counts[c]!));
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    out.get(c)![fill[c]!++] = i;
  }
  return out;
}

/** Splits `idx` into `parts` consecutive pieces whose sizes differ by at most one (larger first). */
function arraySplit(idx: Uint32Array, parts: number): Uint32Array[] {
  const out: Uint32Array[] = [];
  const base = Math.floor(idx.length / parts);
  const extra = idx.length % parts;
  let at = 0;
  for (let p = 0; p < parts; p++) {
    const size = base + (p < extra ? 1 : 0);
    out.push(idx.subarray(at, at + size));
    at += size;
  }
  return out;
}

/** Cut points floor(cumsum(p) * n) for the first k-1 parts; the last part takes the rest. */
function cutsFromProportions(p: ArrayLike<number>, n: number): number[] {
  const cuts: number[] = [];
  let acc = 0;
  for (let j = 0; j < p.length - 1; j++) {
    acc += p[j]!;
    cuts.push(Math.min(n, Math.floor(acc * n)));
  }
  return cuts;
}

function concat(chunks: Uint32Array[]): Uint32Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint32Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function partitionIid(n: number, numClients: number, rng: Rng): Uint32Array[] {
  return arraySplit(rng.permutation(n), numClients).map((a) => a.slice());
}

function partitionDirichlet(
  byClass: Map<number, Uint32Array>,
  n: number,
  numClients: number,
  alpha: number,
  minSize: number,
  maxTries: number,
  selfBalancing: boolean,
  rng: Rng,
  specText: string,
): Uint32Array[] {
  const classes = [...byClass.values()];
  let smallest = 0;
  let under = 0;
  for (let attempt = 1; attempt <= maxTries; attempt++) {
    // Sizes depend only on the proportions, so draw those first and shuffle only on success.
    const sizes = new Array<number>(numClients).fill(0);
    const allCuts: number[][] = [];
    for (const idx of classes) {
      const p = rng.dirichlet(alpha, numClients);
      if (selfBalancing) {
        let sum = 0;
        for (let j = 0; j < numClients; j++) {
          if (sizes[j]! >= n / numClients) p[j] = 0;
          sum += p[j]!;
        }
        if (sum > 0) for (let j = 0; j < numClients; j++) p[j] = p[j]! / sum;
        else p.fill(1 / numClients);
      }
      const cuts = cutsFromProportions(p, idx.length);
      cuts.push(idx.length);
      let from = 0;
      for (let j = 0; j < numClients; j++) {
        sizes[j] = sizes[j]! + (cuts[j]! - from);
        from = cuts[j]!;
      }
      allCuts.push(cuts);
    }
    smallest = Infinity;
    under = 0;
    for (const size of sizes) {
      if (size < smallest) smallest = size;
      if (size < minSize) under++;
    }
    if (smallest < minSize) continue;
    const chunks: Uint32Array[][] = Array.from({ length: numClients }, () => []);
    classes.forEach((idxSorted, c) => {
      const idx = rng.shuffle(idxSorted.slice());
      const cuts = allCuts[c]!;
      let from = 0;
      for (let j = 0; j < numClients; j++) {
        if (cuts[j]! > from) chunks[j]!.push(idx.subarray(from, cuts[j]!));
        from = cuts[j]!;
      }
    });
    return chunks.map(concat);
  }
  throw new PartitionError(
    `partition '${specText}' over ${numClients} clients: none of ${maxTries} draws gave every client at least minSize=${minSize} examples ` +
      `(last draw: ${under} clients below, smallest ${smallest}). Use a larger alpha, fewer clients or a smaller minSize${selfBalancing ? '' : ' (or try selfBalancing: true)'}`,
  );
}

function partitionQuantity(n: number, numClients: number, alpha: number, minSize: number, maxTries: number, rng: Rng, specText: string): Uint32Array[] {
  const perm = rng.permutation(n);
  let smallest = 0;
  let under = 0;
  for (let attempt = 1; attempt <= maxTries; attempt++) {
    const p = rng.dirichlet(alpha, numClients);
    const cuts = cutsFromProportions(p, n);
    const parts: Uint32Array[] = [];
    let from = 0;
    smallest = Infinity;
    under = 0;
    for (let j = 0; j < numClients; j++) {
      const to = j < numClients - 1 ? cuts[j]! : n;
      parts.push(perm.subarray(from, to));
      smallest = Math.min(smallest, to - from);
      if (to - from < minSize) under++;
      from = to;
    }
    if (smallest >= minSize) return parts.map((a) => a.slice());
  }
  throw new PartitionError(
    `partition '${specText}' over ${numClients} clients: none of ${maxTries} draws gave every client at least minSize=${minSize} examples ` +
      `(last draw: ${under} clients below, smallest ${smallest}). Use a larger alpha, fewer clients or a smaller minSize`,
  );
}

/**
 * Which labels each client holds for shards:C: every label is used, label usage is as even
 * as possible (each label held by floor or ceil(numClients*C/K) clients), and each client
 * gets C distinct labels. Greedy by largest remaining quota, random tie-breaks; this never
 * gets stuck because no quota ever exceeds the number of clients left.
 */
export function assignShardLabels(classes: readonly number[], numClients: number, labelsPerClient: number, rng: Rng): number[][] {
  const K = classes.length;
  const total = numClients * labelsPerClient;
  const quota = new Array<number>(K).fill(Math.floor(total / K));
  const extra = rng.sample(K, total % K);
  for (const e of extra) quota[e] = quota[e]! + 1;
  const out: number[][] = [];
  for (let client = 0; client < numClients; client++) {
    const order = Array.from(rng.permutation(K));
    order.sort((a, b) => quota[b]! - quota[a]!); // stable: ties keep the random order
    const pick = order.slice(0, labelsPerClient);
    for (const k of pick) quota[k] = quota[k]! - 1;
    out.push(pick.map((k) => classes[k]!).sort((a, b) => a - b));
  }
  return out;
}

function partitionShards(byClass: Map<number, Uint32Array>, numClients: number, C: number, rng: Rng, specText: string): Uint32Array[] {
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const K = classes.length;
  if (C > K) {
    throw new PartitionError(`partition '${specText}': each client should hold ${C} distinct labels but the data has only ${K} (${classes.join(', ')}); use shards:${K} or less`);
  }
  if (numClients * C < K) {
    throw new PartitionError(
      `partition '${specText}': ${numClients} clients x ${C} labels cover only ${numClients * C} of the ${K} labels, so some examples would be left out; ` +
        `use at least ${Math.ceil(K / C)} clients or shards:${Math.ceil(K / numClients)}`,
    );
  }
  const held = assignShardLabels(classes, numClients, C, rng);
  const holders = new Map<number, number[]>(classes.map((c) => [c, []]));
  held.forEach((labels, client) => labels.forEach((c) => holders.get(c)!.push(client)));
  const chunks: Uint32Array[][] = Array.from({ length: numClients }, () => []);
  for (const c of classes) {
    const hs = holders.get(c)!;
    const idx = rng.shuffle(byClass.get(c)!.slice());
    if (idx.length < hs.length) {
      throw new PartitionError(
        `partition '${specText}': label ${c} has ${idx.length} examples but ${hs.length} clients must hold it; use fewer clients or a smaller C`,
      );
    }
    arraySplit(idx, hs.length).forEach((part, i) => chunks[hs[i]!]!.push(part));
  }
  return chunks.map(concat);
}

/**
 * Splits example indices 0..labels.length-1 among `numClients` clients.
 *
 * @param labels class label of each example
 * @param numClients number of clients (>= 1)
 * @param spec 'iid' | 'dirichlet:ALPHA' | 'shards:C' | 'quantity:ALPHA', or the parsed object
 * @param seed any safe integer; the same inputs and seed always give the same split
 * @returns one Uint32Array of example indices per client, in random order
 */
export function partition(labels: Uint8Array, numClients: number, spec: PartitionSpec | string, seed: number, options: PartitionOptions = {}): Uint32Array[] {
  if (!(labels instanceof Uint8Array)) throw new TypeError('labels must be a Uint8Array');
  if (typeof numClients !== 'number') throw new TypeError(`numClients must be a number; got ${typeof numClients}`);
  if (!Number.isSafeInteger(numClients) || numClients < 1) throw new RangeError(`numClients must be a positive integer; got ${numClients}`);
  if (typeof seed !== 'number') throw new TypeError(`seed must be a number; got ${typeof seed}`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer; got ${seed}`);
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const s = toPartitionSpec(spec);
  const specText = formatPartitionSpec(s);
  const n = labels.length;
  if (n < numClients) {
    throw new RangeError(`numClients (${numClients}) is larger than the number of examples (${n}); every client needs at least one example`);
  }
  const byClass = s.kind === 'dirichlet' || s.kind === 'shards' ? indicesByClass(labels) : new Map<number, Uint32Array>();
  const { maxTries = defaultMaxTries((s.kind === 'dirichlet' ? byClass.size : 1) * numClients), selfBalancing = false } = options;
  if (typeof maxTries !== 'number') throw new TypeError(`options.maxTries must be a number; got ${typeof maxTries}`);
  if (!Number.isSafeInteger(maxTries) || maxTries < 1) throw new RangeError(`options.maxTries must be a positive integer; got ${maxTries}`);
  if (typeof selfBalancing !== 'boolean') throw new TypeError(`options.selfBalancing must be a boolean; got ${typeof selfBalancing}`);
  let minSize: number;
  if (options.minSize === undefined) {
    minSize = Math.min(DEFAULT_MIN_SIZE, Math.floor(n / (2 * numClients)));
  } else {
    minSize = options.minSize;
    if (typeof minSize !== 'number') throw new TypeError(`options.minSize must be a number; got ${typeof minSize}`);
    if (!Number.isSafeInteger(minSize) || minSize < 0) throw new RangeError(`options.minSize must be a non-negative integer; got ${minSize}`);
    if (minSize * numClients > n) {
      throw new RangeError(`options.minSize (${minSize}) x numClients (${numClients}) exceeds the ${n} examples; lower minSize or use fewer clients`);
    }
  }

  const rng = createRng(seed).fork('partition').fork(specText);
  let parts: Uint32Array[];
  switch (s.kind) {
    case 'iid':
      parts = partitionIid(n, numClients, rng);
      break;
    case 'quantity':
      parts = partitionQuantity(n, numClients, s.alpha, minSize, maxTries, rng, specText);
      break;
    case 'dirichlet':
      parts = partitionDirichlet(byClass, n, numClients, s.alpha, minSize, maxTries, selfBalancing, rng, specText);
      break;
    case 'shards':
      parts = partitionShards(byClass, numClients, s.labelsPerClient, rng, specText);
      break;
  }
  const order = rng.fork('order');
  for (const p of parts) order.shuffle(p);
  return parts;
}
