import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { io, type Socket } from 'socket.io-client';
import { AUTH_CHALLENGE_PATH, EVENTS, PROTOCOL_VERSION, SECAGG_EVENTS, authSignedMessage, packAdvertise, type RoundStart, type Welcome } from '@flock/protocol';
import { Coordinator, DifferentiallyPrivate, FedAvg, FileAuditLog, MemoryClientRegistry, type CoordinatorSettingsInput } from '@flock/coordinator';
import { FlockClient } from '@flock/client';
import { nodeClientPlatform } from '@flock/client/node';
import { createPresetModel, flatModelOf, selectBackend } from '@flock/model';
import { SecAggClient, generateIdentityKeyPair, signDetached, toHex, type IdentityKeyPair } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { fashionSlices, nextRound, RawPeer, waitFor } from './helpers.js';
import { sendUpdate } from './upload-helpers.js';

const OPERATOR = 'operator-secret-for-tests-0123456789';
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let model: Awaited<ReturnType<typeof flatModelOf>>;
beforeAll(async () => {
  await selectBackend('auto');
  const m = createPresetModel('mlp', { seed: 1 });
  model = await flatModelOf(m);
  m.dispose();
});

interface Fed {
  coordinator: Coordinator;
  url: string;
  auditFile: string;
  connects: string[];
  audit(): Array<Record<string, unknown>>;
}

async function federation(settings: CoordinatorSettingsInput = {}, extra: { privateModels?: boolean; tls?: { cert: string; key: string }; ca?: string } = {}): Promise<Fed> {
  const dir = mkdtempSync(path.join(tmpdir(), 'flock-auth-'));
  const auditFile = path.join(dir, 'audit.log');
  const auditLog = new FileAuditLog(auditFile);
  cleanups.push(() => auditLog.close());
  const coordinator = new Coordinator({
    model,
    settings: { federationId: 'fed-auth', minClients: 1, rounds: 1, ...settings },
    registry: new MemoryClientRegistry(),
    audit: auditLog,
    operatorToken: OPERATOR,
    ...(extra.privateModels ? { privateModels: true } : {}),
    ...(extra.tls ? { tls: extra.tls } : {}),
  });
  const url = await coordinator.listen(0, '127.0.0.1');
  cleanups.push(() => coordinator.close());
  const connects: string[] = [];
  coordinator.on('client:connect', (id: string) => connects.push(id));
  const audit = () =>
    readFileSync(auditFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { coordinator, url, auditFile, connects, audit };
}

async function challenge(url: string): Promise<{ nonce: string; federationId: string; auth: string }> {
  const res = await fetch(`${url}${AUTH_CHALLENGE_PATH}`, { method: 'POST' });
  expect(res.status).toBe(200);
  return (await res.json()) as { nonce: string; federationId: string; auth: string };
}

/** A signed handshake `auth` object, built by hand as a client would. */
async function signedAuth(url: string, clientId: string, key: IdentityKeyPair, opts: { token?: string; signWith?: IdentityKeyPair } = {}): Promise<Record<string, unknown>> {
  const c = await challenge(url);
  const sig = await signDetached(nodePlatform, (opts.signWith ?? key).secretKey, authSignedMessage(c.federationId, clientId, c.nonce));
  return { protocolVersion: PROTOCOL_VERSION, clientId, publicKey: toHex(key.publicKey), nonce: c.nonce, signature: toHex(sig), ...(opts.token ? { token: opts.token } : {}) };
}

/** Raw peers that enrolled with their own token and key, connected and authenticated. */
async function enrolledPeers(coordinator: Coordinator, url: string, ids: string[]): Promise<{ keys: IdentityKeyPair[]; peers: RawPeer[] }> {
  const keys = ids.map(() => generateIdentityKeyPair(nodePlatform));
  const peers: RawPeer[] = [];
  for (const [i, id] of ids.entries()) {
    const { token } = coordinator.auth.mintToken({ label: id });
    const peer = new RawPeer(url, id, await signedAuth(url, id, keys[i]!, { token }));
    cleanups.push(() => peer.close());
    await peer.connected();
    peers.push(peer);
  }
  return { keys, peers };
}

interface Outcome {
  ok: boolean;
  code?: string;
  welcome?: Welcome;
  socket: Socket;
}

/** Connects once with a fixed auth object (no reconnection); resolves with the welcome or the refusal code. */
function connect(url: string, auth: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<Outcome> {
  const socket = io(url, { auth, transports: ['websocket'], reconnection: false, forceNew: true, ...extra });
  cleanups.push(() => socket.disconnect());
  return new Promise((resolve) => {
    socket.once(EVENTS.welcome, (w: Welcome) => resolve({ ok: true, welcome: w, socket }));
    socket.once('connect_error', (e: Error & { data?: { code?: string } }) => resolve({ ok: false, code: e.data?.code ?? `transport: ${e.message}`, socket }));
  });
}

function admin(url: string, method: string, p: string, opts: { token?: string | null; body?: unknown; requestId?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.token !== null) headers.authorization = `Bearer ${opts.token ?? OPERATOR}`;
  if (opts.requestId) headers['x-request-id'] = opts.requestId;
  return fetch(`${url}${p}`, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
}

describe('client authentication over socket.io', () => {
  it('refuses missing, forged, unknown, expired, revoked and reused credentials with typed connect_errors and admits nobody', async () => {
    const fed = await federation();
    const { coordinator, url } = fed;
    const key = generateIdentityKeyPair(nodePlatform);
    const other = generateIdentityKeyPair(nodePlatform);
    const rejected: unknown[] = [];
    coordinator.on('rejected', (r) => rejected.push(r));

    // No credentials at all.
    expect((await connect(url, { protocolVersion: PROTOCOL_VERSION, clientId: 'anon' })).code).toBe('UNAUTHORIZED');
    // Signature by another key than the presented one.
    const { token } = coordinator.auth.mintToken({ label: 'a' });
    expect((await connect(url, await signedAuth(url, 'c-forged', key, { token, signWith: other }))).code).toBe('UNAUTHORIZED');
    // Signed, but no token and not enrolled.
    expect((await connect(url, await signedAuth(url, 'c-new', key))).code).toBe('UNAUTHORIZED');
    // A token with a wrong secret.
    const wrong = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect((await connect(url, await signedAuth(url, 'c-new', key, { token: wrong }))).code).toBe('UNAUTHORIZED');
    // A nonce the coordinator never issued.
    const made = await signedAuth(url, 'c-new', key, { token });
    expect((await connect(url, { ...made, nonce: 'x'.repeat(32) })).code).toBe('CHALLENGE_INVALID');
    // Expired (minted an hour ago, valid for a second).
    const expired = coordinator.auth.mintToken({ expiresInMs: 1000, now: new Date(Date.now() - 3_600_000) }).token;
    expect((await connect(url, await signedAuth(url, 'c-exp', key, { token: expired }))).code).toBe('CREDENTIAL_EXPIRED');
    // Revoked before use.
    const revoked = coordinator.auth.mintToken();
    coordinator.auth.revokeToken(revoked.id);
    expect((await connect(url, await signedAuth(url, 'c-rev', key, { token: revoked.token }))).code).toBe('CREDENTIAL_REVOKED');

    expect(fed.connects).toEqual([]);
    expect(coordinator.connectedClients).toEqual([]);
    expect(rejected).toEqual([]);
    const refused = fed.audit().filter((e) => e.action === 'auth.refused');
    expect(refused.map((e) => e.code)).toEqual(['UNAUTHORIZED', 'UNAUTHORIZED', 'UNAUTHORIZED', 'UNAUTHORIZED', 'CHALLENGE_INVALID', 'CREDENTIAL_EXPIRED', 'CREDENTIAL_REVOKED']);
    for (const e of refused) expect(typeof e.requestId === 'string' && typeof e.time === 'string' && typeof e.actor === 'string').toBe(true);
  });

  it('binds a token at first use; later connections need the same key; a used challenge cannot be replayed; a token enrolls one identity', async () => {
    const fed = await federation();
    const { coordinator, url } = fed;
    const key = generateIdentityKeyPair(nodePlatform);
    const { token, id } = coordinator.auth.mintToken({ label: 'device-1' });

    const auth = await signedAuth(url, 'dev-1', key, { token });
    const first = await connect(url, auth);
    expect(first.ok).toBe(true);
    expect((await coordinator.auth.registry.getToken(id))?.boundClientId).toBe('dev-1');
    expect((await coordinator.auth.registry.getIdentity('dev-1'))?.publicKey).toBe(toHex(key.publicKey));
    first.socket.disconnect();
    await waitFor(() => coordinator.connectedClients.length === 0, 10_000, 'disconnect');

    // Replaying the captured handshake (same nonce and signature) fails.
    expect((await connect(url, auth)).code).toBe('CHALLENGE_INVALID');
    // The same token for another identity: already bound.
    expect((await connect(url, await signedAuth(url, 'dev-2', generateIdentityKeyPair(nodePlatform), { token }))).code).toBe('TOKEN_ALREADY_USED');
    // The enrolled id with another key: refused, with or without the token.
    expect((await connect(url, await signedAuth(url, 'dev-1', generateIdentityKeyPair(nodePlatform)))).code).toBe('UNAUTHORIZED');
    expect((await connect(url, await signedAuth(url, 'dev-1', generateIdentityKeyPair(nodePlatform), { token }))).code).toBe('UNAUTHORIZED');
    // The right key, fresh challenge, no token: welcome.
    const again = await connect(url, await signedAuth(url, 'dev-1', key));
    expect(again.ok).toBe(true);
    expect(fed.connects).toEqual(['dev-1', 'dev-1']);
    expect(fed.audit().filter((e) => e.action === 'client.enroll').map((e) => e.actor)).toEqual(['client:dev-1']);
  });

  it('one live session per identity: a second authenticated session replaces the first, which gets SESSION_REPLACED', async () => {
    const { coordinator, url } = await federation();
    const key = generateIdentityKeyPair(nodePlatform);
    const { token } = coordinator.auth.mintToken();
    const a = await connect(url, await signedAuth(url, 'twin', key, { token }));
    expect(a.ok).toBe(true);
    const errors: Array<{ code: string }> = [];
    a.socket.on(EVENTS.error, (e: { code: string }) => errors.push(e));
    const closed = new Promise<string>((resolve) => a.socket.once('disconnect', resolve));
    const b = await connect(url, await signedAuth(url, 'twin', key));
    expect(b.ok).toBe(true);
    expect(await closed).toBe('io server disconnect');
    expect(errors.map((e) => e.code)).toEqual(['SESSION_REPLACED']);
    expect(coordinator.connectedClients).toEqual(['twin']);
    expect(b.socket.connected).toBe(true);
  });

  it('the SDK enrolls with a token, re-authenticates with a fresh challenge after a network cut, and is cut off when revoked', async () => {
    const fed = await federation();
    const { coordinator, url } = fed;
    const [data] = await fashionSlices(1, 16);
    const { token } = coordinator.auth.mintToken({ label: 'sdk' });
    const client = new FlockClient({ url, clientId: 'sdk-1', token, data: data!, crypto: nodePlatform, model: () => createPresetModel('mlp') });
    cleanups.push(() => client.stop());
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    await client.start();
    expect(coordinator.connectedClients).toEqual(['sdk-1']);

    // Recovered session: the transport drops, socket.io reconnects, and the auth function
    // runs again (fresh nonce, signature, no token): the middleware is not skipped.
    const issued = coordinator.auth.challenges.size;
    client.disconnectTransport();
    await waitFor(() => fed.connects.length === 2 && coordinator.connectedClients.includes('sdk-1'), 30_000, 'reconnect');
    expect(fed.audit().filter((e) => e.action === 'client.enroll')).toHaveLength(1);
    expect(coordinator.auth.challenges.size).toBe(issued); // the new nonce was issued and consumed

    // Revocation through the admin API disconnects the live session.
    const res = await admin(url, 'POST', '/v1/admin/clients/sdk-1/revoke', { requestId: 'req-revoke-1' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ clientId: 'sdk-1', revoked: true, disconnected: true });
    await waitFor(() => errors.includes('CREDENTIAL_REVOKED') && !client.connected, 10_000, 'revoked client cut off');
    expect(coordinator.connectedClients).toEqual([]);
    // And its key is refused afterwards.
    const key = (client as unknown as { identity: IdentityKeyPair }).identity;
    expect((await connect(url, await signedAuth(url, 'sdk-1', key))).code).toBe('CREDENTIAL_REVOKED');
  });

  it('open mode admits anonymous clients (and the SDK still works against it)', async () => {
    const { coordinator, url } = await federation({ auth: 'open' });
    expect((await challenge(url)).auth).toBe('open');
    expect((await connect(url, { protocolVersion: PROTOCOL_VERSION, clientId: 'anon-1' })).ok).toBe(true);
    // Anonymous ids cannot push a live session out.
    expect((await connect(url, { protocolVersion: PROTOCOL_VERSION, clientId: 'anon-1' })).code).toBe('CLIENT_ID_IN_USE');
    expect(coordinator.connectedClients).toEqual(['anon-1']);
  });
});

describe('the coordinator key is trusted on first use', () => {
  it('a client refuses a coordinator that comes back with another signing key, accepts the same key again, and refuses a key other than the pinned one', async () => {
    const keyA = generateIdentityKeyPair(nodePlatform);
    const start = async (signingKey: IdentityKeyPair, port = 0): Promise<Coordinator> => {
      const c = new Coordinator({ model, settings: { federationId: 'fed-tofu', auth: 'open', minClients: 1, rounds: 1 }, signingKey });
      await c.listen(port, '127.0.0.1');
      return c;
    };
    let coordinator = await start(keyA);
    const port = Number(new URL(coordinator.url).port);
    cleanups.push(() => coordinator.close());
    const [data] = await fashionSlices(1, 16);
    const client = new FlockClient({ url: coordinator.url, clientId: 'tofu-1', data: data!, crypto: nodePlatform, model: () => createPresetModel('mlp') });
    cleanups.push(() => client.stop());
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    await client.start();

    // An impostor (or a coordinator whose key was lost) on the same address: refused.
    await coordinator.close();
    coordinator = await start(generateIdentityKeyPair(nodePlatform), port);
    await waitFor(() => errors.includes('COORDINATOR_KEY_CHANGED'), 30_000, 'key change detected');
    expect(client.connected).toBe(false);

    // The coordinator restarted with its persisted key: a new client that first met key A
    // connects, and one pinned to another key is refused at once.
    await coordinator.close();
    coordinator = await start(keyA, port);
    const again = new FlockClient({ url: coordinator.url, clientId: 'tofu-2', data: data!, crypto: nodePlatform, model: () => createPresetModel('mlp'), coordinatorKey: toHex(keyA.publicKey) });
    cleanups.push(() => again.stop());
    await again.start();
    expect(coordinator.connectedClients).toContain('tofu-2');
    const pinned = new FlockClient({ url: coordinator.url, clientId: 'tofu-3', data: data!, crypto: nodePlatform, model: () => createPresetModel('mlp'), coordinatorKey: toHex(generateIdentityKeyPair(nodePlatform).publicKey) });
    cleanups.push(() => pinned.stop());
    pinned.on('error', () => undefined);
    await expect(pinned.start()).rejects.toMatchObject({ code: 'COORDINATOR_KEY_CHANGED' });
  });
});

describe('sealed uploads are bound to the authenticated identity', () => {
  it('an enrolled client whose seal key record is signed by another identity key is refused (SEAL_INVALID identity-mismatch); honest clients of the same round count', async () => {
    const { coordinator, url } = await federation({ minClients: 2, rounds: 1, roundTimeoutMs: 30_000 });
    const { keys, peers } = await enrolledPeers(coordinator, url, ['honest-a', 'honest-b', 'mallory']);
    const [a, b, mallory] = peers as [RawPeer, RawPeer, RawPeer];
    const rejected: Array<{ clientId: string; code: string }> = [];
    coordinator.on('rejected', (r: { clientId: string; code: string }) => rejected.push(r));
    const starts = peers.map((p) => p.nextStart());
    const round = nextRound(coordinator);
    coordinator.start();
    const [s] = await Promise.all(starts);
    const meta = { roundId: s!.roundId, modelVersion: s!.modelVersion, numExamples: 8 };
    const global = coordinator.store.latest().weights.slice();

    // Mallory authenticated as itself, then seals with another Ed25519 key: a record that is
    // self-consistent (its own key signs federation, client id 'mallory' and the box key) but
    // not the enrolled identity. Refused at round:upload, before any chunk is read.
    const other = generateIdentityKeyPair(nodePlatform);
    const poisoned = new Float32Array(coordinator.numParams).fill(5);
    expect(await sendUpdate(mallory, meta, poisoned, { identity: other })).toMatchObject({ ok: false, error: { code: 'SEAL_INVALID', details: { reason: 'identity-mismatch' } } });
    expect(rejected).toEqual([{ clientId: 'mallory', code: 'SEAL_INVALID', event: 'round:upload' }]);

    // The honest clients seal with the keys they authenticated with: both count.
    const delta = new Float32Array(coordinator.numParams).fill(0.01);
    expect(await sendUpdate(a, meta, delta, { identity: keys[0] })).toEqual({ ok: true });
    expect(await sendUpdate(b, meta, delta, { identity: keys[1] })).toEqual({ ok: true });
    expect(await mallory.emitAck('round:decline', { roundId: s!.roundId, reason: 'refused' })).toEqual({ ok: true });
    const summary = await round;
    expect(summary.status).toBe('committed');
    expect(summary.reporters).toEqual(['honest-a', 'honest-b']);
    // Mallory's update never reached the aggregate: the model moved by exactly the honest delta.
    const committed = coordinator.store.get(1)!.weights;
    let maxDiff = 0;
    for (let i = 0; i < global.length; i++) maxDiff = Math.max(maxDiff, Math.abs(committed[i]! - (global[i]! + 0.01)));
    expect(maxDiff).toBeLessThanOrEqual(1e-6);
  });
});

describe('secure-aggregation keys are bound to the authenticated identity', () => {
  it('round keys signed by another identity key than the enrolled one are refused; the enrolled key is accepted', async () => {
    const { coordinator, url } = await federation({ minClients: 3, rounds: 1, roundTimeoutMs: 30_000, secureAggregation: { enabled: true, clip: 1, weightCap: 1000, stageTimeoutMs: 2_000 } });
    const { keys, peers } = await enrolledPeers(coordinator, url, ['honest-a', 'honest-b', 'mallory']);
    const starts = peers.map((p) => p.nextStart());
    coordinator.start();
    const [s] = (await Promise.all(starts)) as RoundStart[];
    const advertise = async (clientId: string, identity: IdentityKeyPair) =>
      packAdvertise(await new SecAggClient({ session: s!.secagg!.session, round: s!.round, k: s!.secagg!.k, t: s!.secagg!.t, vectorLength: s!.secagg!.vectorLength, clientId, identity, platform: nodePlatform }).advertiseKeys());
    // Mallory authenticated with its enrolled key, then signs its round keys with another one
    // (which would let whoever holds that key impersonate it in the key agreement).
    const mallory = peers[2]!;
    expect(await mallory.emitAck(SECAGG_EVENTS.advertiseKeys, await advertise('mallory', generateIdentityKeyPair(nodePlatform)))).toMatchObject({
      ok: false,
      error: { code: 'SECAGG_REJECTED', details: { reason: 'SECAGG_BAD_SIGNATURE' } },
    });
    // An honest client signs with the key it authenticated with.
    expect(await peers[0]!.emitAck(SECAGG_EVENTS.advertiseKeys, await advertise('honest-a', keys[0]!))).toEqual({ ok: true });
  });
});

describe('operator admin API', () => {
  it('under differential privacy the sampling fraction cannot be changed at run time (the accountant would under-report epsilon)', async () => {
    const strategy = new DifferentiallyPrivate(new FedAvg(), { mode: 'central', noiseMultiplier: 1, clip: 1, samplingRate: 0.5, delta: 1e-5 });
    const coordinator = new Coordinator({ model, settings: { federationId: 'fed-dp-admin', minClients: 1, rounds: 1, fraction: 0.5, sampling: 'poisson' }, strategy, registry: new MemoryClientRegistry(), operatorToken: OPERATOR });
    const url = await coordinator.listen(0, '127.0.0.1');
    cleanups.push(() => coordinator.close());
    const refused = await admin(url, 'PATCH', '/v1/admin/settings', { body: { fraction: 1 } });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { code: 'BAD_MESSAGE', details: { field: 'fraction' } } });
    expect(coordinator.settings.fraction).toBe(0.5);
    // Other settings still change.
    expect((await admin(url, 'PATCH', '/v1/admin/settings', { body: { rounds: 3 } })).status).toBe(200);
    expect(coordinator.settings.rounds).toBe(3);
  });

  it('refuses missing and wrong operator tokens; with the right one lists, mints, revokes, pauses and reconfigures; every action is in the audit log', async () => {
    const fed = await federation({ rounds: 2 });
    const { coordinator, url } = fed;
    // Without / with a wrong token.
    const none = await admin(url, 'GET', '/v1/admin/status', { token: null });
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
    const wrong = await admin(url, 'GET', '/v1/admin/clients', { token: OPERATOR + 'x' });
    expect(wrong.status).toBe(401);

    const ids: string[] = [];
    const call = async (method: string, p: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
      const requestId = `req-${ids.length + 1}`;
      ids.push(requestId);
      const res = await admin(url, method, p, { requestId, ...(body !== undefined ? { body } : {}) });
      expect(res.headers.get('x-request-id')).toBe(requestId);
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };
    const status = await call('GET', '/v1/admin/status');
    expect(status.status).toBe(200);
    expect(status.json).toMatchObject({ federationId: 'fed-auth', auth: 'tokens', roundsPaused: false, settings: { rounds: 2 } });

    const minted = await call('POST', '/v1/admin/tokens', { label: 'phone', expires: '1h' });
    expect(minted.status).toBe(201);
    const token = minted.json.token as string;
    expect(token).toMatch(/^flk_[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$/);
    const bad = await call('POST', '/v1/admin/tokens', { label: 'x', expires: 'soon' });
    expect(bad.status).toBe(400);
    expect((bad.json.error as { code: string }).code).toBe('BAD_MESSAGE');
    const unknownKey = await call('POST', '/v1/admin/tokens', { lable: 'typo' });
    expect(unknownKey.status).toBe(400);

    const key = generateIdentityKeyPair(nodePlatform);
    expect((await connect(url, await signedAuth(url, 'phone-1', key, { token }))).ok).toBe(true);
    const clients = await call('GET', '/v1/admin/clients');
    expect(clients.json.clients).toEqual([expect.objectContaining({ clientId: 'phone-1', publicKey: toHex(key.publicKey), online: true, revokedAt: null })]);
    const tokens = await call('GET', '/v1/admin/tokens');
    expect(JSON.stringify(tokens.json)).not.toContain('secretHash');
    expect(tokens.json.tokens).toEqual([expect.objectContaining({ id: minted.json.id, label: 'phone', boundClientId: 'phone-1', status: 'bound' })]);

    const spare = await call('POST', '/v1/admin/tokens', {});
    const revokedToken = await call('POST', `/v1/admin/tokens/${spare.json.id as string}/revoke`);
    expect(revokedToken.json).toMatchObject({ revoked: true, clientId: null });
    expect((await call('POST', '/v1/admin/clients/nobody/revoke')).status).toBe(404);

    expect((await call('POST', '/v1/admin/rounds/stop')).json).toEqual({ roundsPaused: true });
    expect(coordinator.paused).toBe(true);
    expect((await call('POST', '/v1/admin/rounds/start')).json).toEqual({ roundsPaused: false });
    const patched = await call('PATCH', '/v1/admin/settings', { rounds: 5, fraction: 0.5, roundTimeoutMs: 30_000 });
    expect(patched.json).toEqual({ settings: { rounds: 5, fraction: 0.5, roundTimeoutMs: 30_000 } });
    expect(coordinator.settings.fraction).toBe(0.5);
    expect((await call('PATCH', '/v1/admin/settings', { fraction: 2 })).status).toBe(400);
    expect((await call('PATCH', '/v1/admin/settings', { minClients: 1 })).status).toBe(400);
    expect(coordinator.settings.fraction).toBe(0.5);
    expect((await call('GET', '/v1/admin/nothing-here')).status).toBe(404);

    // Every admin request the test made is in the audit log under its request id, with actor and time.
    const audit = fed.audit();
    for (const id of ids) {
      const hit = audit.find((e) => e.requestId === id);
      expect(hit, `audit record for ${id}`).toBeDefined();
      expect(hit!.actor).toBe('operator');
      expect(typeof hit!.time).toBe('string');
    }
    expect(audit.filter((e) => e.action === 'admin.refused')).toHaveLength(2);
    expect(audit.map((e) => e.action)).toEqual(expect.arrayContaining(['admin.tokens.create', 'admin.tokens.revoke', 'admin.clients.list', 'admin.rounds.stop', 'admin.rounds.start', 'admin.settings.update', 'client.enroll']));
  });

  it('private models need a session or operator bearer token; public by default', async () => {
    const pub = await federation();
    expect((await fetch(`${pub.url}/v1/models/latest`)).status).toBe(200);
    const { coordinator, url } = await federation({}, { privateModels: true });
    expect((await fetch(`${url}/v1/models/latest`)).status).toBe(401);
    expect((await fetch(`${url}/v1/health`)).status).toBe(200);
    expect((await fetch(`${url}/v1/models/latest`, { headers: { authorization: `Bearer ${OPERATOR}` } })).status).toBe(200);
    const { token } = coordinator.auth.mintToken();
    const c = await connect(url, await signedAuth(url, 'm-1', generateIdentityKeyPair(nodePlatform), { token }));
    const access = c.welcome!.accessToken!;
    expect((await fetch(`${url}/v1/models/latest/weights.bin`, { headers: { authorization: `Bearer ${access}` } })).status).toBe(200);
    c.socket.disconnect();
    await waitFor(() => coordinator.connectedClients.length === 0, 10_000, 'disconnect');
    // The session's token dies with the session.
    expect((await fetch(`${url}/v1/models/latest`, { headers: { authorization: `Bearer ${access}` } })).status).toBe(401);
  });
});

describe('TLS', () => {
  const haveOpenssl = (() => {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  it.skipIf(!haveOpenssl)('serves https/wss with a self-signed certificate; the SDK trusts it through `ca` and trains a round', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'flock-tls-'));
    const certFile = path.join(dir, 'cert.pem');
    const keyFile = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
    const cert = readFileSync(certFile, 'utf8');
    const fed = await federation({ minClients: 1, rounds: 1, roundTimeoutMs: 60_000 }, { tls: { cert, key: readFileSync(keyFile, 'utf8') } });
    expect(fed.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    // Without the CA the certificate is not trusted.
    const { token } = fed.coordinator.auth.mintToken();
    const untrusted = await connect(fed.url, { protocolVersion: PROTOCOL_VERSION, clientId: 'x' });
    expect(untrusted.ok).toBe(false);
    expect(untrusted.code).toMatch(/^transport/);

    const [data] = await fashionSlices(1, 32);
    const client = new FlockClient({ url: fed.url, clientId: 'tls-1', token, ca: cert, platform: nodeClientPlatform({ ca: cert }), data: data!, crypto: nodePlatform, model: () => createPresetModel('mlp') });
    cleanups.push(() => client.stop());
    const reports: boolean[] = [];
    client.on('round:report', (r) => reports.push(r.accepted));
    await client.start();
    fed.coordinator.start();
    await fed.coordinator.whenDone();
    await waitFor(() => reports.length === 1, 30_000, 'round report');
    expect(reports).toEqual([true]);
    expect(fed.coordinator.store.latest().version).toBe(1);
    expect(fed.audit().some((e) => e.action === 'round.commit' && e.actor === 'coordinator' && typeof e.requestId === 'string')).toBe(true);
  });
});
