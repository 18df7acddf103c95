import { lengthPrefixed } from '../crypto/bytes.js';
import { sha256 } from '../crypto/hash.js';

export const GRAPH_DOMAIN = 'flock/secagg/v1/neighbour-graph';

/** A neighbour graph over sorted client ids; `neighbours.get(id)` is sorted, never contains id. */
export interface NeighbourGraph {
  /** Client ids in canonical (sorted) order. */
  readonly ids: readonly string[];
  /** Actual degree: n - 1 for the full graph, else k (or k + 1 when n and k are both odd). */
  readonly degree: number;
  readonly full: boolean;
  readonly neighbours: ReadonlyMap<string, readonly string[]>;
}

/** Canonical order of client ids: JS string order (UTF-16 code units). Also fixes mask signs. */
export function sortIds(ids: readonly string[]): string[] {
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Public graph seed: SHA-256(domain | session | round | sorted ids). Every party computes it. */
export function graphSeed(session: string, round: number, sortedIds: readonly string[]): Uint8Array {
  return sha256(lengthPrefixed(GRAPH_DOMAIN, session, round, ...sortedIds));
}

/** Deterministic byte stream: SHA-256(seed | counter) blocks (public randomness only). */
class SeededStream {
  private block: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private counter = 0;
  constructor(private readonly seed: Uint8Array) {}
  private byte(): number {
    if (this.pos >= this.block.length) {
      this.block = sha256(lengthPrefixed(this.seed, this.counter++));
      this.pos = 0;
    }
    return this.block[this.pos++]!;
  }
  /** Uniform integer in [0, bound) by rejection sampling on 32-bit words. */
  below(bound: number): number {
    const limit = Math.floor(2 ** 32 / bound) * bound;
    for (;;) {
      const w = ((this.byte() << 24) | (this.byte() << 16) | (this.byte() << 8) | this.byte()) >>> 0;
      if (w < limit) return w % bound;
    }
  }
}

/**
 * The k-regular neighbour graph (Bell et al. 2020 style) over `ids`.
 * - n <= k + 1: the full graph.
 * - otherwise a Harary-style circulant (each position linked to the k/2 positions on either
 *   side, plus the opposite position when k is odd) whose positions are assigned to clients
 *   by a seeded uniform permutation; when n and k are both odd no k-regular graph exists and
 *   the degree is k + 1.
 * Deterministic from (ids, seed): every party computes the same graph.
 */
export function buildNeighbourGraph(ids: readonly string[], k: number, seed: Uint8Array): NeighbourGraph {
  if (!Array.isArray(ids)) throw new TypeError('ids must be an array of strings');
  for (const id of ids) if (typeof id !== 'string') throw new TypeError('ids must be an array of strings');
  if (typeof k !== 'number' || !Number.isInteger(k)) throw new TypeError('k must be an integer');
  if (k < 1) throw new RangeError('k must be >= 1');
  if (!(seed instanceof Uint8Array)) throw new TypeError('seed must be a Uint8Array');
  const sorted = sortIds(ids);
  for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) throw new RangeError(`ids contains a duplicate: ${sorted[i]}`);
  const n = sorted.length;
  const sets: Set<number>[] = Array.from({ length: n }, () => new Set<number>());
  let degree = k;
  // No k-regular graph exists when n and k are both odd: use k + 1 (k - 1 at the 255 share cap).
  if ((n * k) % 2 === 1) degree = k === 255 ? 254 : k + 1;
  const full = n <= degree + 1;
  if (full) {
    degree = Math.max(0, n - 1);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) sets[i]!.add(j);
  } else {
    // perm[p] = client index placed at circulant position p (Fisher-Yates, seeded)
    const perm = Array.from({ length: n }, (_, i) => i);
    const rng = new SeededStream(seed);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      const tmp = perm[i]!;
      perm[i] = perm[j]!;
      perm[j] = tmp;
    }
    const link = (p: number, q: number): void => {
      const a = perm[p]!;
      const b = perm[q]!;
      sets[a]!.add(b);
      sets[b]!.add(a);
    };
    for (let p = 0; p < n; p++) {
      for (let d = 1; d <= Math.floor(degree / 2); d++) link(p, (p + d) % n);
      if (degree % 2 === 1) link(p, (p + n / 2) % n);
    }
  }
  const neighbours = new Map<string, string[]>();
  for (let i = 0; i < n; i++) {
    neighbours.set(sorted[i]!, [...sets[i]!].sort((a, b) => a - b).map((j) => sorted[j]!));
  }
  return { ids: sorted, degree, full, neighbours };
}

/**
 * The connected components of the graph restricted to `members` (edges only between members),
 * largest first. The survivors of a round must form one component: the masked inputs of a
 * component sum to its members' inputs plus masks the unmasking removes.
 */
export function componentsAmong(graph: NeighbourGraph, members: Iterable<string>): string[][] {
  const inSet = new Set(members);
  const seen = new Set<string>();
  const out: string[][] = [];
  for (const start of inSet) {
    if (seen.has(start)) continue;
    const comp = [start];
    seen.add(start);
    for (let i = 0; i < comp.length; i++) {
      for (const v of graph.neighbours.get(comp[i]!) ?? []) {
        if (inSet.has(v) && !seen.has(v)) {
          seen.add(v);
          comp.push(v);
        }
      }
    }
    out.push(sortIds(comp));
  }
  return out.sort((a, b) => b.length - a.length);
}
