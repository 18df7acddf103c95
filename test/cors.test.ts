// Cross-origin pages and the coordinator's HTTP API (packages/coordinator/src/http/cors.ts): what a
// browser checks, asked of a real coordinator on loopback with the headers a browser sends.
import { afterEach, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { Coordinator, type CoordinatorSettingsInput } from '@flock/coordinator';
import { createPresetModel, flatModelOf, selectBackend } from '@flock/model';
import { PROTOCOL_VERSION } from '@flock/protocol';

const PAGE = 'http://page.test:5173';
let coordinator: Coordinator | undefined;

afterEach(async () => {
  await coordinator?.close();
  coordinator = undefined;
});

async function start(settings: CoordinatorSettingsInput = {}, extra: { privateModels?: boolean; operatorToken?: string } = {}): Promise<string> {
  await selectBackend('cpu');
  const m = createPresetModel('mlp', { seed: 1 });
  const flat = await flatModelOf(m);
  m.dispose();
  coordinator = new Coordinator({ model: flat, settings: { auth: 'open', ...settings }, ...extra });
  return await coordinator.listen(0, '127.0.0.1');
}

/** A browser's preflight for a GET that carries the headers the SDK sends. */
function preflight(url: string, origin = PAGE, method = 'GET'): Promise<Response> {
  return fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization,if-none-match,content-type' } });
}

describe('CORS with the default settings (any origin)', () => {
  it('a preflight allows the headers the SDK sends and the methods it uses', async () => {
    const url = await start();
    for (const path of ['/v1/models/latest/weights.bin', '/v1/models/latest/model.json', '/v1/rounds']) {
      const res = await preflight(url + path);
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      const allowed = res.headers.get('access-control-allow-headers')!.split(',').map((h) => h.trim());
      expect(allowed).toEqual(expect.arrayContaining(['authorization', 'if-none-match', 'content-type']));
      expect(res.headers.get('access-control-allow-methods')).toMatch(/GET/);
    }
    const challenge = await preflight(url + '/v1/auth/challenge', PAGE, 'POST');
    expect(challenge.status).toBe(204);
    expect(challenge.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(challenge.headers.get('access-control-allow-headers')).toMatch(/content-type/);
  });

  it('answers expose etag and x-flock-model-hash to the page', async () => {
    const url = await start();
    const res = await fetch(url + '/v1/models/latest/weights.bin', { headers: { origin: PAGE } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toBe('etag, x-flock-model-hash');
    expect(res.headers.get('x-flock-model-hash')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('error answers carry CORS headers too, so the page can read why: 404, 401 (private models), 429 (challenge flood)', async () => {
    const url = await start({ auth: 'tokens', rateLimits: { ipConnections: { burst: 1, perSecond: 0.001 } } }, { privateModels: true, operatorToken: 'op-secret' });
    const notFound = await fetch(url + '/v1/models/999/weights.bin', { headers: { origin: PAGE } });
    expect(notFound.status).toBe(401); // private: the access check comes first
    expect(notFound.headers.get('access-control-allow-origin')).toBe('*');
    const unknown = await fetch(url + '/v1/nothing-here', { headers: { origin: PAGE, authorization: 'Bearer op-secret' } });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('access-control-allow-origin')).toBe('*');
    expect((await unknown.json()).error.code).toBe('MODEL_NOT_FOUND');
    const first = await fetch(url + '/v1/auth/challenge', { method: 'POST', headers: { origin: PAGE } });
    expect(first.status).toBe(200);
    expect(first.headers.get('access-control-allow-origin')).toBe('*');
    const limited = await fetch(url + '/v1/auth/challenge', { method: 'POST', headers: { origin: PAGE } });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('access-control-allow-origin')).toBe('*');
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('the admin API stays same-origin: no CORS headers, its preflight is refused', async () => {
    const url = await start({}, { operatorToken: 'op-secret' });
    const res = await fetch(url + '/v1/admin/status', { headers: { origin: PAGE, authorization: 'Bearer op-secret' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await preflight(url + '/v1/admin/status');
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('CORS with configured origins', () => {
  it('echoes an allowed origin (with vary: origin) and gives another origin no CORS headers', async () => {
    const url = await start({ corsOrigins: [PAGE, 'https://other.example'] });
    const ok = await fetch(url + '/v1/models/latest', { headers: { origin: PAGE } });
    expect(ok.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(ok.headers.get('vary')).toMatch(/origin/i);
    const pre = await preflight(url + '/v1/models/latest');
    expect(pre.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    const evil = await fetch(url + '/v1/models/latest', { headers: { origin: 'http://evil.test' } });
    expect(evil.status).toBe(200); // the answer is public; the browser hides it from the page
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const evilPre = await preflight(url + '/v1/models/latest', 'http://evil.test');
    expect(evilPre.headers.get('access-control-allow-headers')).toBeNull();
  });

  it('refuses socket.io connections whose Origin is not allowed; clients without an Origin (Node) connect', async () => {
    const url = await start({ corsOrigins: [PAGE] });
    const attempt = (origin?: string): Promise<string> =>
      new Promise((resolve) => {
        const s = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { protocolVersion: PROTOCOL_VERSION, clientId: `c-${origin ?? 'none'}`.replace(/[^A-Za-z0-9._:-]/g, '-') }, ...(origin ? { extraHeaders: { origin } } : {}) });
        s.on('connect', () => (s.disconnect(), resolve('connected')));
        s.on('connect_error', (e) => (s.disconnect(), resolve(`refused: ${e.message}`)));
      });
    expect(await attempt(PAGE)).toBe('connected');
    expect(await attempt()).toBe('connected');
    expect(await attempt('http://evil.test')).toMatch(/^refused/);
  });

  it('refuses a malformed origin in the settings', async () => {
    await expect(start({ corsOrigins: ['http://page.test/'] })).rejects.toThrow(/corsOrigins/);
  });
});
