import { describe, expect, it } from 'vitest';
import { RateLimiter, TokenBuckets, rateLimitSettingsSchema } from './rate-limit.js';

describe('token buckets', () => {
  it('allows a burst, then refills at the configured rate, and says when to retry', () => {
    let t = 0;
    const b = new TokenBuckets({ burst: 3, perSecond: 2 }, 100, () => t);
    expect([b.take('k'), b.take('k'), b.take('k')]).toEqual([0, 0, 0]);
    expect(b.take('k')).toBe(500); // one token takes 0.5 s
    t += 500;
    expect(b.take('k')).toBe(0);
    expect(b.take('other')).toBe(0); // keys are independent
  });

  it('keeps at most maxTracked buckets (idle full ones go first)', () => {
    let t = 0;
    const b = new TokenBuckets({ burst: 2, perSecond: 1 }, 10, () => t);
    for (let i = 0; i < 1000; i++) b.take(`k${i}`);
    expect(b.size).toBeLessThanOrEqual(10);
    t += 10_000;
    for (let i = 0; i < 1000; i++) b.take(`j${i}`);
    expect(b.size).toBeLessThanOrEqual(10);
  });
});

describe('the default limits', () => {
  it('never throttle 1000 simulated clients on 127.0.0.1 connecting at once and running back-to-back rounds', () => {
    let t = 0;
    const limiter = new RateLimiter(rateLimitSettingsSchema.parse(undefined), () => t);
    const ids = Array.from({ length: 1000 }, (_, i) => `sim-${i}`);
    let refused = 0;
    for (const id of ids) if (limiter.checkConnection('127.0.0.1', id)) refused++;
    // A round of a 10 MB model every 2 s: round:upload + 40 chunks per client, all at once; or 6 SecAgg stage messages.
    for (let round = 0; round < 20; round++) {
      for (const id of ids) for (let e = 0; e < 41; e++) if (limiter.checkEvent(id, '127.0.0.1')) refused++;
      t += 2_000;
    }
    // A reconnect storm (every client drops and comes back) a few times in a minute.
    for (let storm = 0; storm < 3; storm++) {
      for (const id of ids) if (limiter.checkConnection('127.0.0.1', id)) refused++;
      t += 20_000;
    }
    expect(refused).toBe(0);
  });

  it('refuse a flood from one client id and from one address, with retryAfterMs', () => {
    let t = 0;
    const limiter = new RateLimiter(rateLimitSettingsSchema.parse(undefined), () => t);
    let refused;
    for (let i = 0; i < 10_000 && !refused; i++) refused = limiter.checkEvent('flooder', '10.0.0.9');
    expect(refused?.code).toBe('RATE_LIMITED');
    expect(refused?.details?.retryAfterMs).toBeGreaterThan(0);
    expect(limiter.checkEvent('someone-else', '10.0.0.9')).toBeUndefined();
    let conn;
    for (let i = 0; i < 100_000 && !conn; i++) conn = limiter.checkConnection('10.0.0.7', `c${i}`);
    expect(conn?.code).toBe('RATE_LIMITED');
  });

  it('exempt loopback only when configured', () => {
    const tight = { ipConnections: { burst: 2, perSecond: 0.001 }, clientConnections: { burst: 1000, perSecond: 1 } };
    const strict = new RateLimiter(rateLimitSettingsSchema.parse(tight), () => 0);
    const lax = new RateLimiter(rateLimitSettingsSchema.parse({ ...tight, exemptLoopback: true }), () => 0);
    const attempts = (l: RateLimiter, ip: string) => Array.from({ length: 5 }, (_, i) => l.checkConnection(ip, `x${i}`)?.code ?? 'ok');
    expect(attempts(strict, '127.0.0.1')).toEqual(['ok', 'ok', 'RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
    expect(attempts(lax, '127.0.0.1')).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(attempts(lax, '::ffff:127.0.0.1')).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(attempts(lax, '192.0.2.1')).toEqual(['ok', 'ok', 'RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
  });
});
