import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';

export interface CohortSpec {
  /** Fraction of available clients to select (0, 1]. */
  fraction: number;
  /** Never select fewer than this many (a round needs at least this many available). */
  min: number;
  /** Never select more than this many. */
  max: number;
}

/** Cohort size for a number of available clients. */
export function cohortSize(available: number, spec: CohortSpec): number {
  return Math.min(available, spec.max, Math.max(spec.min, Math.ceil(spec.fraction * available)));
}

/**
 * Picks `size` clients out of `available` by a keyed shuffle: sort ids, then Fisher-Yates
 * driven by SHA-256(key | counter). With a random key (production) the choice is
 * unpredictable; with a key derived from a simulation seed it is reproducible.
 */
export function selectCohort(available: readonly string[], size: number, key: Uint8Array): string[] {
  const ids = [...available].sort();
  let counter = 0;
  let pool = new Uint8Array(0);
  let pos = 0;
  const next32 = (): number => {
    if (pos + 4 > pool.length) {
      const block = new Uint8Array(key.length + 4);
      block.set(key);
      new DataView(block.buffer).setUint32(key.length, counter++, true);
      pool = sha256(block);
      pos = 0;
    }
    const v = new DataView(pool.buffer, pool.byteOffset + pos, 4).getUint32(0, true);
    pos += 4;
    return v;
  };
  // Unbiased integer in [0, n) by rejection.
  const below = (n: number): number => {
    const limit = Math.floor(0x1_0000_0000 / n) * n;
    for (;;) {
      const v = next32();
      if (v < limit) return v % n;
    }
  };
  for (let i = ids.length - 1; i > 0; i--) {
    const j = below(i + 1);
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
  }
  return ids.slice(0, size).sort();
}

/**
 * Poisson sampling: each client joins independently with probability q, drawn from
 * SHA-256(key | counter) in client-id order — crypto-random with a random key, reproducible
 * with a seed-derived one. This is the sampling the DP accountant's amplification assumes.
 */
export function selectPoisson(available: readonly string[], q: number, key: Uint8Array): string[] {
  if (!(q > 0 && q <= 1)) throw new RangeError(`q must be in (0, 1]; got ${q}`);
  const ids = [...available].sort();
  const threshold = q * 0x1_0000_0000;
  const out: string[] = [];
  let block = new Uint8Array(0);
  let pos = 0;
  let counter = 0;
  for (const id of ids) {
    if (pos + 4 > block.length) {
      const input = new Uint8Array(key.length + 4);
      input.set(key);
      new DataView(input.buffer).setUint32(key.length, counter++, true);
      block = sha256(input);
      pos = 0;
    }
    const u = new DataView(block.buffer, block.byteOffset + pos, 4).getUint32(0, true);
    pos += 4;
    if (u < threshold) out.push(id);
  }
  return out;
}

/** Selection key for a round: from a seed (reproducible) or from crypto randomness. */
export function selectionKey(round: number, seed: number | undefined): Uint8Array {
  if (seed === undefined) return globalThis.crypto.getRandomValues(new Uint8Array(32));
  return sha256(utf8ToBytes(`flock/select/v1|${seed}|${round}`));
}

/**
 * The selection key of a round. A training round is keyed on the train round index (the version
 * it would commit, model version + 1), never on the round number: a round cut off by a crash, a
 * timeout or a fleet leader's death is re-run under a new round number on the same model
 * version, and must select the same cohort for a seeded run to end with the same model
 * (docs/explanation/durability.md, docs/explanation/fleet.md "Deterministic mode"). Evaluation
 * rounds commit nothing and stay keyed on the round number.
 */
export function roundSelectionKey(kind: 'train' | 'evaluate', round: number, modelVersion: number, seed: number | undefined): Uint8Array {
  return selectionKey(kind === 'train' ? modelVersion + 1 : round, seed);
}
