import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { Coordinator } from '@flock/coordinator';
import { EVENTS, type RoundStart } from '@flock/protocol';
import { createPresetModel, flatModelOf, selectBackend } from '@flock/model';
import { RawPeer, waitFor } from './helpers.js';
import { sendUpdate } from './upload-helpers.js';

// GET /v1/openapi.json is generated from the zod schemas; every live response of a real
// coordinator (after a real round) must validate against the document, and every documented
// operation is exercised here.

const TOKEN = 'operator-token-for-openapi-tests';
type Doc = { openapi: string; paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>> };

let c: Coordinator;
let url: string;
let doc: Doc;
const peers: RawPeer[] = [];
const ajv = new Ajv2020({ strict: false, allErrors: true });
const exercised = new Set<string>();

/** Calls the endpoint, then validates the body against the document's schema for (method, template, status). */
async function call(method: string, template: string, path: string, init: { body?: unknown; raw?: BodyInit; headers?: Record<string, string>; operator?: boolean } = {}): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { ...(init.operator ? { authorization: `Bearer ${TOKEN}` } : {}), ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers };
  const res = await fetch(`${url}${path}`, { method: method.toUpperCase(), headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : init.raw ? { body: init.raw } : {}) });
  const op = doc.paths[template]?.[method];
  expect(op, `${method} ${template} is documented`).toBeDefined();
  const response = op!.responses[String(res.status)];
  expect(response, `${method} ${template} documents status ${res.status}`).toBeDefined();
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!;
  expect(Object.keys(response!.content ?? {}), `${method} ${template} ${res.status} content type`).toContain(type);
  let body: unknown;
  if (type === 'application/json') {
    body = await res.json();
    const validate = ajv.compile(response!.content![type]!.schema);
    expect(validate(body), `${method} ${template} ${res.status}: ${JSON.stringify(validate.errors?.slice(0, 3))}`).toBe(true);
  } else body = await res.arrayBuffer();
  exercised.add(`${method} ${template}`);
  return { status: res.status, body };
}

beforeAll(async () => {
  await selectBackend('auto');
  const m = createPresetModel('logreg', { seed: 2 });
  const flat = await flatModelOf(m);
  m.dispose();
  c = new Coordinator({ model: flat, operatorToken: TOKEN, settings: { auth: 'open', minClients: 2, rounds: 1, roundTimeoutMs: 20_000, serving: { policy: 'manual' } } });
  url = await c.listen();
  doc = (await (await fetch(`${url}/v1/openapi.json`)).json()) as Doc;
  for (let i = 0; i < 2; i++) peers.push(new RawPeer(url, `peer-${i}`));
  const starts: Array<[RawPeer, RoundStart]> = [];
  for (const p of peers) p.socket.on(EVENTS.roundStart, (s: RoundStart) => starts.push([p, s]));
  await Promise.all(peers.map((p) => p.connected()));
  c.start();
  await waitFor(() => starts.length === 2, 30_000, 'round:start');
  await Promise.all(starts.map(([p, s]) => sendUpdate(p, { roundId: s.roundId, modelVersion: s.modelVersion, numExamples: 10, metrics: { loss: 1, accuracy: 0.5 } }, new Float32Array(c.numParams).fill(0.001))));
  await c.whenDone();
});

afterAll(async () => {
  for (const p of peers) p.close();
  await c?.close();
});

describe('GET /v1/openapi.json', () => {
  it('is OpenAPI 3.1 whose schemas are not trivially permissive', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const health = doc.paths['/v1/health']!.get!.responses['200']!.content!['application/json']!.schema;
    expect(ajv.compile(health)({})).toBe(false);
    expect(ajv.compile(health)({ ok: true })).toBe(false);
  });

  it('describes every live response of a coordinator after a real round', async () => {
    const instance = Array.from({ length: 28 }, () => Array.from({ length: 28 }, () => [0.2]));
    await call('get', '/v1/health', '/v1/health');
    await call('get', '/v1/rounds', '/v1/rounds');
    await call('get', '/v1/models/{version}', '/v1/models/latest');
    await call('get', '/v1/models/{version}', '/v1/models/1');
    await call('get', '/v1/models/{version}', '/v1/models/serving');
    expect((await call('get', '/v1/models/{version}', '/v1/models/9')).status).toBe(404);
    await call('get', '/v1/models/{version}/model.json', '/v1/models/1/model.json');
    await call('get', '/v1/models/{version}/weights.bin', '/v1/models/1/weights.bin');
    expect((await call('post', '/v1/models/{version}:predict', '/v1/models/latest:predict', { body: { instances: [instance] } })).status).toBe(200);
    expect((await call('post', '/v1/models/{version}:predict', '/v1/models/1:predict', { body: { instances: [[1, 2]] } })).status).toBe(400);
    expect((await call('post', '/v1/models/{version}:predict', '/v1/models/1:predict', { raw: 'x', headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    expect((await call('post', '/v1/models/{version}:predict', '/v1/models/1:predict', { body: { instances: Array.from({ length: 300 }, () => instance) } })).status).toBe(413);
    await call('post', '/v1/auth/challenge', '/v1/auth/challenge');
    await call('get', '/v1/openapi.json', '/v1/openapi.json');
    expect((await call('get', '/metrics', '/metrics')).status).toBe(401);
    expect((await call('get', '/metrics', '/metrics', { operator: true })).status).toBe(200);
    await call('get', '/dashboard', '/dashboard');
    expect((await call('get', '/v1/admin/status', '/v1/admin/status')).status).toBe(401);
    await call('get', '/v1/admin/status', '/v1/admin/status', { operator: true });
    await call('get', '/v1/admin/rounds', '/v1/admin/rounds', { operator: true });
    await call('get', '/v1/admin/clients', '/v1/admin/clients', { operator: true });
    const minted = await call('post', '/v1/admin/tokens', '/v1/admin/tokens', { operator: true, body: { label: 'openapi' } });
    expect(minted.status).toBe(201);
    await call('get', '/v1/admin/tokens', '/v1/admin/tokens', { operator: true });
    await call('post', '/v1/admin/tokens/{tokenId}/revoke', `/v1/admin/tokens/${minted.body.id}/revoke`, { operator: true });
    expect((await call('post', '/v1/admin/clients/{clientId}/revoke', '/v1/admin/clients/nobody/revoke', { operator: true })).status).toBe(404);
    await call('post', '/v1/admin/rounds/stop', '/v1/admin/rounds/stop', { operator: true });
    await call('post', '/v1/admin/rounds/start', '/v1/admin/rounds/start', { operator: true });
    await call('patch', '/v1/admin/settings', '/v1/admin/settings', { operator: true, body: { roundTimeoutMs: 30_000 } });
    expect((await call('patch', '/v1/admin/settings', '/v1/admin/settings', { operator: true, body: { nope: 1 } })).status).toBe(400);
    await call('get', '/v1/admin/serving', '/v1/admin/serving', { operator: true });
    await call('post', '/v1/admin/serving/promote', '/v1/admin/serving/promote', { operator: true, body: { version: 1 } });
    expect((await call('post', '/v1/admin/serving/promote', '/v1/admin/serving/promote', { operator: true, body: { version: 5 } })).status).toBe(404);
    await call('post', '/v1/admin/serving/rollback', '/v1/admin/serving/rollback', { operator: true, body: {} });
    expect((await call('post', '/v1/admin/serving/rollback', '/v1/admin/serving/rollback', { operator: true, body: {} })).status).toBe(404);

    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
    expect(documented.filter((op) => !exercised.has(op))).toEqual([]);
  });
});
