import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';

/**
 * Acquire: the lease key must be free; the fencing token comes from INCR on the fence key, so
 * every leadership gets a larger one (a token is only spent on a successful acquisition).
 * KEYS: lease, fence. ARGV: node id, lease ms. Returns the token, or nil when the lease is held.
 */
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return nil end
local t = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], t .. ':' .. ARGV[1], 'PX', ARGV[2])
return t`;

/** Renew by compare-and-set: extend only while the value is still ours. KEYS: lease. ARGV: value, lease ms. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** Release by compare-and-delete. KEYS: lease. ARGV: value. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * The Lua guard other fenced scripts start with: refuses unless the lease key (KEYS[1]) still
 * holds the caller's `<token>:<nodeId>` (ARGV[1]). A deposed leader's write is refused even if
 * it still believes it leads.
 */
export const FENCE_GUARD_LUA = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('FENCED lease is not held by ' .. ARGV[1]) end`;

/** The value a holder writes in the lease key. */
export function leaseValue(token: number, nodeId: string): string {
  return `${token}:${nodeId}`;
}

export interface LeaseOptions {
  redis: Redis;
  /** The lease key, e.g. `flock:<federation>:lease`. */
  key: string;
  /** The fencing-token counter key, e.g. `flock:<federation>:fence`. */
  fenceKey: string;
  nodeId: string;
  /** How long a lease lives without renewal. */
  leaseMs: number;
  /** How often the holder renews and a contender tries (default leaseMs / 3). */
  intervalMs?: number;
}

export type LeaseLossReason = 'taken' | 'expired' | 'unreachable' | 'released';

export interface LeaseEvents {
  acquired: [{ token: number }];
  lost: [{ token: number; reason: LeaseLossReason }];
  error: [Error];
}

/**
 * A Redis lease with a fencing token (docs/explanation/fleet.md): `SET NX PX`-style acquisition
 * with a token from INCR, renewal by compare-and-set every `intervalMs`, and loss detection:
 * a renewal that finds another value ('taken') or no key ('expired'), or no successful renewal
 * for longer than the lease lives ('unreachable': we must assume someone else holds it now).
 *
 * Events: 'acquired' ({token}), 'lost' ({token, reason}), 'error' (a Redis error, retried).
 */
export class Lease extends EventEmitter<LeaseEvents> {
  private tokenValue: number | undefined;
  /** While held: until when it is certainly ours (the start of the last successful renewal + leaseMs). */
  private validUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private running = false;
  private busy = false;
  private readonly o: Required<LeaseOptions>;

  constructor(o: LeaseOptions) {
    super();
    if (typeof o.nodeId !== 'string' || o.nodeId.length === 0 || o.nodeId.includes(':')) throw new RangeError('nodeId must be a non-empty string without ":"');
    if (!Number.isInteger(o.leaseMs) || o.leaseMs < 100) throw new RangeError('leaseMs must be an integer >= 100');
    const intervalMs = o.intervalMs ?? Math.max(20, Math.floor(o.leaseMs / 3));
    if (!(intervalMs > 0) || intervalMs >= o.leaseMs) throw new RangeError('intervalMs must be positive and below leaseMs');
    this.o = { ...o, intervalMs };
  }

  /** The fencing token while this node holds the lease. */
  get token(): number | undefined {
    return this.holds() ? this.tokenValue : undefined;
  }

  /** The lease key's value while held (`<token>:<nodeId>`), for fenced scripts. */
  get value(): string | undefined {
    const t = this.token;
    return t === undefined ? undefined : leaseValue(t, this.o.nodeId);
  }

  /** Held, and renewed recently enough that no one else can hold it yet. */
  holds(): boolean {
    return this.tokenValue !== undefined && Date.now() < this.validUntil;
  }

  /** Starts contending (and renewing once held). */
  start(): void {
    if (this.running) return;
    this.running = true;
    void this.tick();
  }

  /** Stops, and releases the lease if held (another node can take it at once). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.watchdog) clearTimeout(this.watchdog);
    this.timer = this.watchdog = undefined;
    const value = this.value;
    const token = this.tokenValue;
    this.tokenValue = undefined;
    if (value !== undefined) {
      try {
        await this.o.redis.eval(RELEASE, 1, this.o.key, value);
      } catch {
        // It expires on its own.
      }
      this.emit('lost', { token: token!, reason: 'released' });
    }
  }

  /** Stops renewing without releasing (a stalled or partitioned leader; tests). */
  pause(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Resumes after pause(): renews if still held, else contends again. */
  resume(): void {
    this.start();
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref?.();
  }

  /** Validity extended: the watchdog declares the lease lost the moment it ends unrenewed (Redis may hang). */
  private validFor(sentAt: number): void {
    this.validUntil = sentAt + this.o.leaseMs;
    this.arm();
  }

  private arm(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      this.watchdog = undefined;
      if (this.tokenValue === undefined) return;
      // Timers run on the event loop's cached clock and may fire a little early: check again later.
      if (Date.now() < this.validUntil) this.arm();
      else this.lose('unreachable');
    }, Math.max(1, this.validUntil - Date.now()));
    this.watchdog.unref?.();
  }

  /** One Redis call, bounded: a hung connection must not hold the loop past the lease. */
  private call<T>(p: Promise<T>): Promise<T> {
    let t: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error('redis did not answer in time')), this.o.intervalMs);
    });
    return Promise.race([p, limit]).finally(() => clearTimeout(t));
  }

  private lose(reason: LeaseLossReason): void {
    const token = this.tokenValue;
    this.tokenValue = undefined;
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = undefined;
    if (token !== undefined) this.emit('lost', { token, reason });
  }

  private async tick(): Promise<void> {
    if (!this.running || this.busy) return;
    this.busy = true;
    const { redis, key, fenceKey, nodeId, leaseMs, intervalMs } = this.o;
    // The return paths below leave the loop (stopped): busy is cleared in finally.
    const sentAt = Date.now();
    const held = this.tokenValue;
    try {
      if (held !== undefined) {
        const renewed = await this.call(redis.eval(RENEW, 1, key, leaseValue(held, nodeId), String(leaseMs)));
        // Stopped, or the watchdog declared it lost meanwhile: a late answer changes nothing.
        if (!this.running || this.tokenValue !== held) return;
        if (Number(renewed) === 1) this.validFor(sentAt);
        else this.lose((await this.call(redis.exists(key))) === 1 ? 'taken' : 'expired');
      } else {
        const token = await this.call(redis.eval(ACQUIRE, 2, key, fenceKey, nodeId, String(leaseMs)));
        if (token !== null) {
          this.tokenValue = Number(token);
          this.validFor(sentAt);
          // Stopped while acquiring: give it back.
          if (!this.running) {
            await this.stop();
            return;
          }
          this.emit('acquired', { token: this.tokenValue });
        }
      }
    } catch (err) {
      this.emit('error', err as Error);
      // No renewal for the life of a lease: another node may hold it by now.
      if (this.tokenValue !== undefined && Date.now() >= this.validUntil) this.lose('unreachable');
    } finally {
      this.busy = false;
    }
    if (this.tokenValue !== undefined) {
      // Renew in time; when the renewal keeps failing, notice the loss the moment validity ends.
      this.schedule(Math.max(1, Math.min(intervalMs, this.validUntil - Date.now())));
    } else this.schedule(intervalMs);
  }
}
