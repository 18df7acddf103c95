import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Challenges } from '../auth/challenges.js';
import type { FleetKeys } from './keys.js';

const DOMAIN = 'flock/fleet-challenge/v1';
const RANDOM = 18;
const MAC = 16;

/**
 * Handshake nonces valid on every node of a fleet (docs/explanation/fleet.md): a balancer may
 * send a client's POST /v1/auth/challenge to one node and its socket.io connection to another.
 * A nonce is self-authenticating: random bytes, its expiry and an HMAC under a key derived from
 * the coordinator's signing key (which every node shares), so any node can check it was issued
 * by the fleet and is unexpired without asking anyone. It is single-use fleet-wide: consuming it
 * burns it in Redis (SET NX, until it expires). Redis unreachable: consume answers false (the
 * client fetches a fresh nonce and retries), never true.
 */
export class FleetChallenges implements Challenges {
  private readonly key: Buffer;
  private issued = 0;

  constructor(
    private readonly o: { redis: Redis; keys: FleetKeys; secret: Uint8Array; onError?: (err: Error) => void },
    readonly ttlMs = 60_000,
  ) {
    if (!(o.secret instanceof Uint8Array) || o.secret.length < 32) throw new TypeError('secret must be a Uint8Array of at least 32 bytes');
    this.key = createHmac('sha256', o.secret).update(DOMAIN).digest();
  }

  private mac(payload: Buffer): Buffer {
    return createHmac('sha256', this.key).update(payload).digest().subarray(0, MAC);
  }

  issue(now = Date.now()): { nonce: string; expiresAt: number } {
    const expiresAt = now + this.ttlMs;
    const payload = Buffer.alloc(RANDOM + 8);
    randomBytes(RANDOM).copy(payload);
    payload.writeBigUInt64BE(BigInt(expiresAt), RANDOM);
    this.issued++;
    return { nonce: Buffer.concat([payload, this.mac(payload)]).toString('base64url'), expiresAt };
  }

  async consume(nonce: string, now = Date.now()): Promise<boolean> {
    if (typeof nonce !== 'string' || nonce.length > 128) return false;
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== RANDOM + 8 + MAC || raw.toString('base64url') !== nonce) return false;
    const payload = raw.subarray(0, RANDOM + 8);
    if (!timingSafeEqual(raw.subarray(RANDOM + 8), this.mac(payload))) return false;
    const expiresAt = Number(payload.readBigUInt64BE(RANDOM));
    if (expiresAt <= now) return false;
    if (this.issued > 0) this.issued--;
    try {
      // Burnt fleet-wide until it would have expired anyway.
      const ok = await this.o.redis.set(this.o.keys.nonce(payload.subarray(0, RANDOM).toString('base64url')), '1', 'PX', expiresAt - now + 1000, 'NX');
      return ok === 'OK';
    } catch (err) {
      this.o.onError?.(err as Error);
      return false;
    }
  }

  get size(): number {
    return this.issued;
  }
}
