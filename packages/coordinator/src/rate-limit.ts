/**
 * Token-bucket rate limits on incoming events (per client id and per IP) and on connection
 * attempts (per IP and per client id). A refused event is answered with RATE_LIMITED
 * (details.retryAfterMs); a refused connection gets RATE_LIMITED as its connect_error.
 *
 * Defaults are sized so that 1000 simulated clients on one loopback address never hit them:
 * the per-IP buckets are large, and loopback can be exempted explicitly (`exemptLoopback`).
 */
import { z } from 'zod';
import { FlockError } from '@flock/protocol';

const bucketSchema = z.object({
  /** Tokens the bucket holds when full (the largest burst). */
  burst: z.number().int().positive().max(1e9),
  /** Tokens added per second. */
  perSecond: z.number().positive().max(1e9),
});
export type BucketSettings = z.infer<typeof bucketSchema>;

export const rateLimitSettingsSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Events from one client id. A round costs a client ~3 + (update bytes / chunk bytes) events. */
    clientEvents: bucketSchema.default({ burst: 2_000, perSecond: 500 }),
    /** Events from one IP address (all its clients together). Generous: simulations put 1000+ clients on 127.0.0.1. */
    ipEvents: bucketSchema.default({ burst: 200_000, perSecond: 50_000 }),
    /** Connection attempts (handshakes) from one IP address. */
    ipConnections: bucketSchema.default({ burst: 5_000, perSecond: 500 }),
    /** Connection attempts naming one client id. */
    clientConnections: bucketSchema.default({ burst: 30, perSecond: 2 }),
    /** HTTP requests to the predict, metrics and OpenAPI endpoints from one IP address. */
    httpRequests: bucketSchema.default({ burst: 2_000, perSecond: 1_000 }),
    /** Exempt 127.0.0.0/8 and ::1 from the per-IP limits (per-client limits still apply). */
    exemptLoopback: z.boolean().default(false),
    /** Further exempt addresses (exact match, as socket.io reports them). */
    exemptIps: z.array(z.string().max(64)).max(1000).default([]),
    /** Most buckets kept per kind; idle full buckets are dropped first. */
    maxTracked: z.number().int().positive().default(100_000),
  })
  .default({
    enabled: true,
    clientEvents: { burst: 2_000, perSecond: 500 },
    ipEvents: { burst: 200_000, perSecond: 50_000 },
    ipConnections: { burst: 5_000, perSecond: 500 },
    clientConnections: { burst: 30, perSecond: 2 },
    httpRequests: { burst: 2_000, perSecond: 1_000 },
    exemptLoopback: false,
    exemptIps: [],
    maxTracked: 100_000,
  });
export type RateLimitSettings = z.infer<typeof rateLimitSettingsSchema>;

interface Bucket {
  tokens: number;
  at: number;
}

/** A set of token buckets with one setting, keyed by client id or IP. Memory is bounded by `maxTracked`. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly settings: BucketSettings,
    private readonly maxTracked: number,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Takes one token; returns 0 if allowed, else the milliseconds until a token is available. */
  take(key: string, cost = 1): number {
    const t = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxTracked) this.sweep(t);
      b = { tokens: this.settings.burst, at: t };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.settings.burst, b.tokens + ((t - b.at) / 1000) * this.settings.perSecond);
      b.at = t;
    }
    if (b.tokens >= cost) {
      b.tokens -= cost;
      return 0;
    }
    return Math.max(1, Math.ceil(((cost - b.tokens) / this.settings.perSecond) * 1000));
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Drops buckets that have refilled (they hold no information); then the oldest, if still too many. */
  private sweep(t: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((t - b.at) / 1000) * this.settings.perSecond >= this.settings.burst) this.buckets.delete(k);
    }
    while (this.buckets.size >= this.maxTracked) this.buckets.delete(this.buckets.keys().next().value!);
  }
}

function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.');
}

export class RateLimiter {
  private readonly clientEvents: TokenBuckets;
  private readonly ipEvents: TokenBuckets;
  private readonly ipConnections: TokenBuckets;
  private readonly clientConnections: TokenBuckets;
  private readonly httpRequests: TokenBuckets;
  private readonly exempt: Set<string>;

  constructor(
    readonly settings: RateLimitSettings,
    now?: () => number,
  ) {
    this.clientEvents = new TokenBuckets(settings.clientEvents, settings.maxTracked, now);
    this.ipEvents = new TokenBuckets(settings.ipEvents, settings.maxTracked, now);
    this.ipConnections = new TokenBuckets(settings.ipConnections, settings.maxTracked, now);
    this.clientConnections = new TokenBuckets(settings.clientConnections, settings.maxTracked, now);
    this.httpRequests = new TokenBuckets(settings.httpRequests, settings.maxTracked, now);
    this.exempt = new Set(settings.exemptIps);
  }

  private ipExempt(ip: string): boolean {
    return this.exempt.has(ip) || (this.settings.exemptLoopback && isLoopback(ip));
  }

  private refuse(scope: string, retryAfterMs: number): FlockError {
    return new FlockError('RATE_LIMITED', `too many ${scope}; retry in ${retryAfterMs} ms`, { retryAfterMs, scope });
  }

  /** Undefined if the event may be handled, else the RATE_LIMITED error to answer with. */
  checkEvent(clientId: string, ip: string): FlockError | undefined {
    if (!this.settings.enabled) return undefined;
    const c = this.clientEvents.take(clientId);
    if (c > 0) return this.refuse('messages from this client', c);
    if (!this.ipExempt(ip)) {
      const i = this.ipEvents.take(ip);
      if (i > 0) return this.refuse('messages from this address', i);
    }
    return undefined;
  }

  /** Undefined if the handshake may proceed, else the RATE_LIMITED error to refuse it with. */
  checkConnection(ip: string, clientId: string | undefined): FlockError | undefined {
    return this.checkConnectionAddress(ip) ?? (clientId === undefined ? undefined : this.checkClientConnection(clientId));
  }

  /** The per-address part of {@link checkConnection}: charged before authentication. */
  checkConnectionAddress(ip: string): FlockError | undefined {
    if (!this.settings.enabled || this.ipExempt(ip)) return undefined;
    const i = this.ipConnections.take(ip);
    return i > 0 ? this.refuse('connection attempts from this address', i) : undefined;
  }

  /**
   * The per-client-id part of {@link checkConnection}. The coordinator charges it only after
   * the handshake authenticated, so nobody can exhaust another client's budget by naming its id.
   */
  checkClientConnection(clientId: string): FlockError | undefined {
    if (!this.settings.enabled || typeof clientId !== 'string' || clientId.length === 0 || clientId.length > 128) return undefined;
    const c = this.clientConnections.take(clientId);
    return c > 0 ? this.refuse('connection attempts for this client id', c) : undefined;
  }

  /** Undefined if an HTTP request (predict, metrics, OpenAPI) from this address may proceed. */
  checkHttpRequest(ip: string): FlockError | undefined {
    if (!this.settings.enabled || this.ipExempt(ip)) return undefined;
    const i = this.httpRequests.take(ip);
    return i > 0 ? this.refuse('HTTP requests from this address', i) : undefined;
  }

  /** Buckets tracked, for status and tests. */
  get tracked(): number {
    return this.clientEvents.size + this.ipEvents.size + this.ipConnections.size + this.clientConnections.size + this.httpRequests.size;
  }
}
