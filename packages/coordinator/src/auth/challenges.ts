import { randomBytes } from 'node:crypto';

/** Where handshake nonces come from and are burnt (one node: {@link ChallengeStore}; a fleet: fleet/challenges.ts). */
export interface Challenges {
  readonly ttlMs: number;
  issue(now?: number): { nonce: string; expiresAt: number };
  /** True if the nonce was issued (by this node or, in a fleet, any node), unused and unexpired; it can never be used again either way. */
  consume(nonce: string, now?: number): boolean | Promise<boolean>;
  /** Nonces issued here and not consumed yet (informative). */
  readonly size: number;
}

/**
 * Single-use, short-lived handshake nonces. consume() succeeds at most once per nonce and
 * only before it expires; the store is bounded (oldest nonces are dropped first).
 */
export class ChallengeStore implements Challenges {
  private readonly pending = new Map<string, number>();

  constructor(
    readonly ttlMs = 60_000,
    private readonly maxPending = 100_000,
  ) {}

  issue(now = Date.now()): { nonce: string; expiresAt: number } {
    this.prune(now);
    while (this.pending.size >= this.maxPending) this.pending.delete(this.pending.keys().next().value!);
    const nonce = randomBytes(24).toString('base64url');
    const expiresAt = now + this.ttlMs;
    this.pending.set(nonce, expiresAt);
    return { nonce, expiresAt };
  }

  /** True if the nonce was issued, unused and unexpired; it can never be used again either way. */
  consume(nonce: string, now = Date.now()): boolean {
    const exp = this.pending.get(nonce);
    if (exp === undefined) return false;
    this.pending.delete(nonce);
    return exp > now;
  }

  get size(): number {
    return this.pending.size;
  }

  private prune(now: number): void {
    // Insertion order is expiry order (constant TTL): stop at the first live one.
    for (const [n, exp] of this.pending) {
      if (exp > now) break;
      this.pending.delete(n);
    }
  }
}
