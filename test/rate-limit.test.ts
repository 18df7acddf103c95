import { afterEach, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { EVENTS, PROTOCOL_VERSION } from '@flock/protocol';
import { RawPeer, startCoordinator } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('rate limits over real sockets', () => {
  it('a client over its event budget gets RATE_LIMITED with retryAfterMs; other clients are unaffected', async () => {
    const { coordinator, url } = await startCoordinator({ minClients: 2, rounds: 1, rateLimits: { clientEvents: { burst: 20, perSecond: 1 } } });
    cleanups.push(() => coordinator.close());
    const [noisy, calm] = [new RawPeer(url, 'noisy'), new RawPeer(url, 'calm')];
    cleanups.push(() => [noisy, calm].forEach((p) => p.close()));
    await Promise.all([noisy.connected(), calm.connected()]);
    const acks = await Promise.all(Array.from({ length: 30 }, () => noisy.emitAck(EVENTS.roundDecline, { roundId: 'r', reason: 'spam' })));
    expect(acks.filter((a) => a.ok)).toHaveLength(20);
    const limited = acks.filter((a) => !a.ok);
    expect(limited).toHaveLength(10);
    for (const a of limited) expect(a).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED', details: { retryAfterMs: expect.any(Number) } } });
    // Without an ack the refusal arrives as flock:error.
    noisy.socket.emit(EVENTS.roundDecline, { roundId: 'r', reason: 'spam' });
    expect(await calm.emitAck(EVENTS.roundDecline, { roundId: 'r', reason: 'fine' })).toEqual({ ok: true });
    await new Promise((r) => setTimeout(r, 200));
    expect(noisy.errors).toMatchObject([{ code: 'RATE_LIMITED' }]);
    expect(noisy.socket.connected).toBe(true);
  });

  it('connection attempts over the per-IP budget are refused with a typed connect_error; loopback can be exempted', async () => {
    const tight = { ipConnections: { burst: 3, perSecond: 0.01 } };
    const { coordinator, url } = await startCoordinator({ minClients: 2, rounds: 1, rateLimits: tight });
    cleanups.push(() => coordinator.close());
    const attempt = (u: string, id: string) =>
      new Promise<string>((resolve) => {
        const s = io(u, { auth: { protocolVersion: PROTOCOL_VERSION, clientId: id }, transports: ['websocket'], reconnection: false, forceNew: true });
        cleanups.push(() => void s.disconnect());
        s.on(EVENTS.welcome, () => resolve('ok'));
        s.on('connect_error', (e: Error & { data?: { code: string; details?: { retryAfterMs?: number } } }) => resolve(e.data?.details?.retryAfterMs ? e.data.code : `untyped:${e.message}`));
      });
    const results: string[] = [];
    for (let i = 0; i < 5; i++) results.push(await attempt(url, `ip-${i}`));
    expect(results).toEqual(['ok', 'ok', 'ok', 'RATE_LIMITED', 'RATE_LIMITED']);
    const other = await startCoordinator({ minClients: 2, rounds: 1, rateLimits: { ...tight, exemptLoopback: true } });
    cleanups.push(() => other.coordinator.close());
    const exempt: string[] = [];
    for (let i = 0; i < 5; i++) exempt.push(await attempt(other.url, `lo-${i}`));
    expect(exempt).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
  });

  it('handshakes that fail authentication do not use up the named client\'s connection budget', async () => {
    const { coordinator, url } = await startCoordinator({ minClients: 2, rounds: 1, auth: 'tokens', rateLimits: { clientConnections: { burst: 2, perSecond: 0.01 } } });
    cleanups.push(() => coordinator.close());
    const attempt = (auth: Record<string, unknown>) =>
      new Promise<string>((resolve) => {
        const s = io(url, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
        cleanups.push(() => void s.disconnect());
        s.on(EVENTS.welcome, () => resolve('ok'));
        s.on('connect_error', (e: Error & { data?: { code: string } }) => resolve(e.data?.code ?? `untyped:${e.message}`));
      });
    // A stranger names 'victim' five times with no valid credential: refused as unauthorized,
    // never as rate-limited, and the victim's budget (2) is untouched.
    const stranger: string[] = [];
    for (let i = 0; i < 5; i++) stranger.push(await attempt({ protocolVersion: PROTOCOL_VERSION, clientId: 'victim' }));
    expect(stranger.every((c) => c === 'UNAUTHORIZED')).toBe(true);
    expect(coordinator['limiter'].checkClientConnection('victim')).toBeUndefined();
    expect(coordinator['limiter'].checkClientConnection('victim')).toBeUndefined();
    expect(coordinator['limiter'].checkClientConnection('victim')?.code).toBe('RATE_LIMITED');
  });

  it('challenge requests share the per-address budget: a flood gets 429 RATE_LIMITED instead of evicting other clients\' nonces', async () => {
    const { coordinator, url } = await startCoordinator({ minClients: 2, rounds: 1, auth: 'tokens', rateLimits: { ipConnections: { burst: 3, perSecond: 0.01 } } });
    cleanups.push(() => coordinator.close());
    const statuses: number[] = [];
    let last: { error?: { code?: string; details?: { retryAfterMs?: number } } } = {};
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${url}/v1/auth/challenge`, { method: 'POST' });
      statuses.push(res.status);
      last = (await res.json()) as typeof last;
      if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(last.error?.code).toBe('RATE_LIMITED');
    expect(last.error?.details?.retryAfterMs).toBeGreaterThan(0);
  });
});
