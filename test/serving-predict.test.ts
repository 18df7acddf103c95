import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Coordinator, type CoordinatorSettingsInput } from '@flock/coordinator';
import { createPresetModel, flatModelOf, selectBackend, setFlatWeights, type ModelPreset } from '@flock/model';
import { loadFashionMnist } from '@flock/sim';

// POST /v1/models/{version|latest|serving}:predict against a real coordinator on loopback:
// the worker thread's outputs equal in-process model.predict on the same backend, and every
// kind of bad input gets its typed error.

interface Served {
  coordinator: Coordinator;
  url: string;
  model: tf.LayersModel;
}

async function serve(preset: ModelPreset, settings: CoordinatorSettingsInput = {}, extra: { operatorToken?: string; privateModels?: boolean } = {}): Promise<Served> {
  const m = createPresetModel(preset, { seed: 7 });
  const flat = await flatModelOf(m);
  const coordinator = new Coordinator({ model: flat, settings: { auth: 'open', ...settings }, ...extra });
  const url = await coordinator.listen(0, '127.0.0.1');
  return { coordinator, url, model: m };
}

async function images(n: number): Promise<Float32Array> {
  const train = await loadFashionMnist({ split: 'train', limit: n });
  const out = new Float32Array(n * 784);
  for (let i = 0; i < n * 784; i++) out[i] = train.images[i]! / 255;
  return out;
}

function nested(data: Float32Array, rows: number): number[][][][] {
  return Array.from({ length: rows }, (_, r) => Array.from({ length: 28 }, (_, y) => Array.from({ length: 28 }, (_, x) => [data[r * 784 + y * 28 + x]!])));
}

function inProcess(model: tf.LayersModel, data: Float32Array, rows: number): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor4d(data, [rows, 28, 28, 1])) as tf.Tensor).dataSync() as Float32Array);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

async function post(url: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers, body: typeof body === 'string' || body instanceof Uint8Array ? (body as unknown as BodyInit) : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
}

let mlp: Served;
let cnn: Served;
let x: Float32Array;

beforeAll(async () => {
  // The in-process reference runs on the backend the inference worker picks (`auto` in both).
  await selectBackend('auto');
  x = await images(40);
  mlp = await serve('mlp', { serving: { maxBatch: 32, maxBodyBytes: 2 * 1024 * 1024 } });
  cnn = await serve('simple-cnn');
  const { backend } = await mlp.coordinator.predictor.ready();
  expect(backend).toBe(tf.getBackend());
  for (const s of [mlp, cnn]) setFlatWeights(s.model, s.coordinator.store.latest().weights);
});

afterAll(async () => {
  for (const s of [mlp, cnn]) {
    if (!s) continue;
    s.model.dispose();
    await s.coordinator.close();
  }
});

describe('predict: outputs equal in-process model.predict', () => {
  it('answers {"instances": [...]} in TensorFlow Serving shape for latest, serving and a version number', async () => {
    const want = inProcess(mlp.model, x.subarray(0, 3 * 784), 3);
    for (const target of ['latest', 'serving', '0']) {
      const r = await post(`${mlp.url}/v1/models/${target}:predict`, { instances: nested(x, 3) });
      expect(r.status).toBe(200);
      expect(r.json.modelVersion).toBe(0);
      expect(r.json.predictions).toHaveLength(3);
      expect(r.json.predictions[0]).toHaveLength(10);
      expect(maxDiff(r.json.predictions.flat(), want)).toBeLessThan(1e-5);
      expect(r.headers.get('access-control-allow-origin')).toBe('*');
    }
  });

  it('accepts the columnar {"inputs": [...]} form', async () => {
    const r = await post(`${mlp.url}/v1/models/latest:predict`, { inputs: nested(x.subarray(784 * 5), 2) });
    expect(r.status).toBe(200);
    expect(maxDiff(r.json.predictions.flat(), inProcess(mlp.model, x.subarray(784 * 5, 784 * 7), 2))).toBeLessThan(1e-5);
  });

  it('takes a binary float32 batch and answers in binary for the simple CNN', async () => {
    const rows = 32;
    const body = new Uint8Array(x.buffer, 0, rows * 784 * 4);
    const res = await fetch(`${cnn.url}/v1/models/latest:predict`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', accept: 'application/octet-stream', 'x-flock-shape': `${rows},28,28,1` }, body: body as unknown as BodyInit });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-flock-shape')).toBe(`${rows},10`);
    const got = new Float32Array(await res.arrayBuffer());
    expect(maxDiff(got, inProcess(cnn.model, x.subarray(0, rows * 784), rows))).toBeLessThan(1e-5);
    // Shape in the query, JSON answer.
    const r2 = await post(`${cnn.url}/v1/models/latest:predict?shape=2`, new Uint8Array(x.buffer, 0, 2 * 784 * 4), { 'content-type': 'application/octet-stream' });
    expect(r2.status).toBe(200);
    expect(maxDiff(r2.json.predictions.flat(), inProcess(cnn.model, x.subarray(0, 2 * 784), 2))).toBeLessThan(1e-5);
  });

  it('gives every concurrent caller its own rows when requests share micro-batches', async () => {
    const calls = Array.from({ length: 12 }, (_, i) => post(`${mlp.url}/v1/models/latest:predict`, { instances: nested(x.subarray(i * 784 * 3), 3) }));
    const results = await Promise.all(calls);
    for (let i = 0; i < results.length; i++) {
      expect(results[i]!.status).toBe(200);
      expect(maxDiff(results[i]!.json.predictions.flat(), inProcess(mlp.model, x.subarray(i * 784 * 3, (i + 1) * 784 * 3), 3))).toBeLessThan(1e-5);
    }
  });
});

describe('predict: bad inputs get typed errors', () => {
  const path = () => `${mlp.url}/v1/models/latest:predict`;

  it('names the expected shape when an instance has the wrong shape', async () => {
    const bad = nested(x, 1);
    bad[0]!.pop();
    const r = await post(path(), { instances: bad });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('WRONG_SHAPE');
    expect(r.json.error.details.expectedShape).toEqual([28, 28, 1]);
    expect(r.json.error.message).toContain('[28, 28, 1]');
    const flat = await post(path(), { instances: [Array.from(x.subarray(0, 784))] });
    expect(flat.json.error.code).toBe('WRONG_SHAPE');
    const bin = await post(path(), new Uint8Array(100), { 'content-type': 'application/octet-stream', 'x-flock-shape': '1,28,28,1' });
    expect(bin.json.error.code).toBe('WRONG_SHAPE');
    const binShape = await post(path(), new Uint8Array(784 * 4), { 'content-type': 'application/octet-stream', 'x-flock-shape': '1,784' });
    expect(binShape.json.error.code).toBe('WRONG_SHAPE');
  });

  it('refuses NaN and Infinity', async () => {
    const inf = JSON.stringify({ instances: nested(x, 1) }).replace(/\[0\]/, '[1e999]');
    const r = await post(path(), inf);
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('NON_FINITE');
    const nan = x.slice(0, 784);
    nan[17] = NaN;
    const b = await post(path(), new Uint8Array(nan.buffer), { 'content-type': 'application/octet-stream', 'x-flock-shape': '1' });
    expect(b.status).toBe(400);
    expect(b.json.error.code).toBe('NON_FINITE');
    const text = await post(path(), '{"instances": [NaN]}');
    expect(text.json.error.code).toBe('BAD_MESSAGE');
  });

  it('bounds the batch size and the request body', async () => {
    const big = await post(path(), { instances: nested(x, 33) });
    expect(big.status).toBe(413);
    expect(big.json.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(big.json.error.details.maxBatch).toBe(32);
    const bin = await post(path(), new Uint8Array(33 * 784 * 4), { 'content-type': 'application/octet-stream', 'x-flock-shape': '33' });
    expect(bin.json.error.code).toBe('PAYLOAD_TOO_LARGE');
    const padded = JSON.stringify({ instances: nested(x, 1) }) + ' '.repeat(2 * 1024 * 1024);
    const body = await post(path(), padded);
    expect(body.status).toBe(413);
    expect(body.json.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('reads bodies sent without a content-length (chunked), within the same bound', async () => {
    const chunked = (bytes: Uint8Array, headers: Record<string, string>) => {
      const parts = [bytes.subarray(0, 1001), bytes.subarray(1001, 70_003), bytes.subarray(70_003)];
      const stream = new ReadableStream<Uint8Array>({
        pull(c) {
          const next = parts.shift();
          if (next) c.enqueue(next);
          else c.close();
        },
      });
      return fetch(path(), { method: 'POST', headers, body: stream, duplex: 'half' } as RequestInit);
    };
    const rows = 3;
    // An odd offset into a larger buffer: the float32 view needs a copy.
    const odd = new Uint8Array(rows * 784 * 4 + 1);
    odd.set(new Uint8Array(x.buffer, 0, rows * 784 * 4), 1);
    const bin = await chunked(odd.subarray(1), { 'content-type': 'application/octet-stream', accept: 'application/octet-stream', 'x-flock-shape': String(rows) });
    expect(bin.status).toBe(200);
    expect(maxDiff(new Float32Array(await bin.arrayBuffer()), inProcess(mlp.model, x.subarray(0, rows * 784), rows))).toBeLessThan(1e-5);
    const json = await chunked(new TextEncoder().encode(JSON.stringify({ instances: nested(x, rows) })), { 'content-type': 'application/json' });
    expect(json.status).toBe(200);
    expect(maxDiff(((await json.json()) as { predictions: number[][] }).predictions.flat(), inProcess(mlp.model, x.subarray(0, rows * 784), rows))).toBeLessThan(1e-5);
    const over = await chunked(new TextEncoder().encode(JSON.stringify({ instances: nested(x, 1) }) + ' '.repeat(2 * 1024 * 1024)), { 'content-type': 'application/json' });
    expect(over.status).toBe(413);
    expect(((await over.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses another content type, method, envelope or version', async () => {
    const r = await post(path(), 'hello', { 'content-type': 'text/plain' });
    expect(r.status).toBe(415);
    expect(r.json.error.code).toBe('BAD_MESSAGE');
    const get = await fetch(path());
    expect(get.status).toBe(405);
    expect(((await get.json()) as any).error.code).toBe('BAD_MESSAGE');
    const envelope = await post(path(), { rows: [] });
    expect(envelope.json.error.code).toBe('BAD_MESSAGE');
    const missing = await post(`${mlp.url}/v1/models/99:predict`, { instances: nested(x, 1) });
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('MODEL_NOT_FOUND');
  });
});

describe('predict: access', () => {
  it('is rate-limited per caller and private under --private-models', async () => {
    const s = await serve('logreg', { rateLimits: { httpRequests: { burst: 2, perSecond: 0.001 } } }, { operatorToken: 'op-secret-token-123', privateModels: true });
    try {
      const url = `${s.url}/v1/models/latest:predict`;
      const body = { instances: nested(x, 1) };
      const anon = await post(url, body);
      expect(anon.status).toBe(401);
      expect(anon.json.error.code).toBe('UNAUTHORIZED');
      const auth = { 'content-type': 'application/json', authorization: 'Bearer op-secret-token-123' };
      expect((await post(url, body, auth)).status).toBe(200);
      expect((await post(url, body, auth)).status).toBe(200);
      const limited = await post(url, body, auth);
      expect(limited.status).toBe(429);
      expect(limited.json.error.code).toBe('RATE_LIMITED');
      expect(limited.headers.get('retry-after')).not.toBeNull();
    } finally {
      s.model.dispose();
      await s.coordinator.close();
    }
  });
});
