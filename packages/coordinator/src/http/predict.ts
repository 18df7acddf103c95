import type { IncomingMessage, ServerResponse } from 'node:http';
import { FlockError } from '@flock/protocol';
import type { ModelStore, ModelVersion } from '../model-store.js';
import type { Predictor } from '../serving/predictor.js';
import { nest, parseBinaryBody, parseBinaryShape, parseJsonBody } from '../serving/inputs.js';
import { readBody, sendError, sendJson } from './respond.js';

/** What `POST /v1/models/{version|latest|serving}:predict` needs from the coordinator. */
export interface PredictContext {
  store: ModelStore;
  predictor: Predictor;
  /** The version `serving` names (lifecycle policy, serving/lifecycle.ts). */
  servingVersion(): number;
  /** Per-caller rate limit (the remote address); undefined = allowed. */
  limit(remoteAddress: string): FlockError | undefined;
  maxBatch: number;
  /** Largest JSON request body; binary bodies are bounded by maxBatch x the input size. */
  maxBodyBytes: number;
  /** One finished request, for /metrics. */
  observe?(o: { target: string; status: number; code?: string; seconds: number; rows: number }): void;
}

export const PREDICT_PATH = /^\/v1\/models\/(latest|serving|\d{1,15}):predict$/;

/** True when the path is a predict endpoint (routed by http/server.ts). */
export function isPredictPath(pathname: string): boolean {
  return PREDICT_PATH.test(pathname);
}

function resolveVersion(ctx: PredictContext, name: string): ModelVersion {
  const v = name === 'latest' ? ctx.store.latest() : ctx.store.get(name === 'serving' ? ctx.servingVersion() : Number(name));
  if (!v) throw new FlockError('MODEL_NOT_FOUND', `model version ${name} does not exist (latest is ${ctx.store.latest().version})`);
  return v;
}

/**
 * TensorFlow Serving's REST predict: `{"instances": [...]}` or `{"inputs": [...]}` in,
 * `{"predictions": [...]}` out; or a little-endian float32 body (`application/octet-stream`,
 * shape in `x-flock-shape` or `?shape=`), answered in binary when the request accepts it.
 */
export async function handlePredict(ctx: PredictContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const started = process.hrtime.bigint();
  const target = PREDICT_PATH.exec(url.pathname)![1]!;
  let rows = 0;
  const done = (status: number, code?: string): void =>
    ctx.observe?.({ target: /^\d/.test(target) ? 'version' : target, status, ...(code ? { code } : {}), seconds: Number(process.hrtime.bigint() - started) / 1e9, rows });
  try {
    if (req.method !== 'POST') {
      const e = new FlockError('BAD_MESSAGE', `use POST ${url.pathname}`);
      sendError(res, e, 405);
      return done(405, e.code);
    }
    const limited = ctx.limit(req.socket.remoteAddress ?? '');
    if (limited) throw limited;
    const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json' && type !== 'application/octet-stream') {
      const e = new FlockError('BAD_MESSAGE', `content-type must be application/json or application/octet-stream; got '${type.slice(0, 64) || 'none'}'`, { contentType: type.slice(0, 64) });
      sendError(res, e, 415);
      return done(415, e.code);
    }
    const v = resolveVersion(ctx, target);
    const { inputShape } = await ctx.predictor.ready();
    const per = inputShape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (type === 'application/octet-stream') {
      const rawShape = req.headers['x-flock-shape'];
      rows = parseBinaryShape(typeof rawShape === 'string' ? rawShape : (url.searchParams.get('shape') ?? undefined), inputShape, ctx.maxBatch);
      data = parseBinaryBody(await readBody(req, Math.min(ctx.maxBodyBytes, ctx.maxBatch * per * 4)), rows, inputShape);
    } else {
      ({ rows, data } = parseJsonBody(await readBody(req, ctx.maxBodyBytes), inputShape, ctx.maxBatch));
    }
    const out = await ctx.predictor.predict(v, data, rows);
    const headers = { 'x-flock-model-version': String(v.version), 'x-flock-model-hash': v.hash };
    if (type === 'application/octet-stream' && String(req.headers.accept ?? '').includes('application/octet-stream')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': out.data.byteLength, 'cache-control': 'no-store', 'x-flock-shape': out.shape.join(','), ...headers });
      res.end(Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));
    } else {
      sendJson(res, 200, { predictions: nest(out.data, out.shape), modelVersion: v.version, modelHash: v.hash }, headers);
    }
    done(200);
  } catch (err) {
    const fe = err instanceof FlockError ? err : new FlockError('INTERNAL', 'prediction failed');
    // Discard what is left of a refused body, so the answer reaches the client.
    req.resume();
    if (!res.headersSent) sendError(res, fe);
    else res.end();
    done(res.statusCode, fe.code);
  }
}
