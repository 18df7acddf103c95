import type { IncomingMessage, ServerResponse } from 'node:http';
import { encodeFloat32, FlockError, specSize, type ErrorEnvelope, type ModelInfo } from '@flock/protocol';
import { modelJsonOf } from '@flock/model';
import type { ModelStore, ModelVersion } from './model-store.js';
import { publicRoundSummary, publicStatus, type PublicRoundSummary } from './confidential.js';

/** Read-only HTTP API: model metadata and TensorFlow.js artifacts, cacheable per version. */
export interface HttpApiContext {
  store: ModelStore;
  /** Counts weight bytes served, for per-round traffic figures. */
  onWeightsServed?(bytes: number): void;
  status(): Record<string, unknown>;
  rounds(): unknown[];
  /** The version `/v1/models/serving` names (serving/lifecycle.ts); default: latest. */
  servingVersion?(): number;
  /**
   * Rounds are confidential (differential privacy, confidential.ts): /v1/health and /v1/rounds
   * show no cohort, counts, client statistics or traffic; the admin API has them.
   */
  confidential?: boolean;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, error: ErrorEnvelope): void {
  sendJson(res, status, { error }, { 'cache-control': 'no-store' });
}

export function modelInfo(store: ModelStore, v: ModelVersion): ModelInfo {
  return {
    version: v.version,
    hash: v.hash,
    round: v.round,
    metrics: v.metrics,
    createdAt: v.createdAt,
    numParams: specSize(store.spec),
    modelJson: `/v1/models/${v.version}/model.json`,
    weights: `/v1/models/${v.version}/weights.bin`,
  };
}

/** A short, stable tag of a metrics record (FNV-1a over its JSON), so ETags change with it. */
function metricsTag(metrics: Record<string, number>): string {
  let h = 0x811c9dc5;
  const text = JSON.stringify(metrics);
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16);
}

/** Returns true when the request was handled. Unknown /v1 paths get a typed 404. */
export function handleHttp(ctx: HttpApiContext, req: IncomingMessage, res: ServerResponse): boolean {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (!url.pathname.startsWith('/v1/')) return false;
  // CORS headers and preflights: http/cors.ts, applied by the server before this runs.
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendError(res, 405, { code: 'BAD_MESSAGE', message: 'only GET and HEAD are supported on /v1' });
    return true;
  }
  if (url.pathname === '/v1/health') {
    sendJson(res, 200, ctx.confidential ? publicStatus(ctx.status()) : ctx.status(), { 'cache-control': 'no-store' });
    return true;
  }
  if (url.pathname === '/v1/rounds') {
    const rounds = ctx.confidential ? ctx.rounds().map((r) => publicRoundSummary(r as PublicRoundSummary & Record<string, unknown>)) : ctx.rounds();
    sendJson(res, 200, { rounds }, { 'cache-control': 'no-store' });
    return true;
  }
  const m = /^\/v1\/models\/(latest|serving|\d{1,15})(?:\/(model\.json|weights\.bin))?$/.exec(url.pathname);
  if (!m) {
    sendError(res, 404, { code: 'MODEL_NOT_FOUND', message: `no such endpoint: ${url.pathname}; see docs/reference/http-api.md` });
    return true;
  }
  // `latest` and `serving` move: like latest, never cached as immutable.
  const latest = m[1] === 'latest' || m[1] === 'serving';
  const v = m[1] === 'latest' ? ctx.store.latest() : ctx.store.get(m[1] === 'serving' ? (ctx.servingVersion?.() ?? ctx.store.latest().version) : Number(m[1]));
  if (!v) {
    const err = new FlockError('MODEL_NOT_FOUND', `model version ${m[1]} does not exist (latest is ${ctx.store.latest().version})`);
    sendError(res, 404, err.toEnvelope());
    return true;
  }
  const part = m[2] ?? 'info';
  // A version's weights and model.json never change: versioned URLs are immutable. Its info
  // gains metrics later (evaluation rounds), so it is revalidated, with the metrics in its ETag.
  const etag = part === 'info' ? `"${v.version}-${v.hash.slice(0, 16)}-${metricsTag(v.metrics)}"` : `"${v.version}-${v.hash}-${part}"`;
  const cache = latest || part === 'info' ? 'no-cache' : 'public, max-age=31536000, immutable';
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, { etag, 'cache-control': cache });
    res.end();
    return true;
  }
  if (part === 'info') {
    sendJson(res, 200, modelInfo(ctx.store, v), { etag, 'cache-control': cache });
  } else if (part === 'model.json') {
    // Relative to .../models/<latest|N>/model.json, '../N/weights.bin' always names the
    // exact version, so `latest` can't change between the two fetches of a loader.
    sendJson(res, 200, modelJsonOf(ctx.store.topology, ctx.store.spec, `../${v.version}/weights.bin`), { etag, 'cache-control': cache });
  } else {
    const bytes = encodeFloat32(v.weights);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.byteLength, etag, 'cache-control': cache, 'x-flock-model-hash': v.hash });
    res.end(req.method === 'HEAD' ? undefined : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    if (req.method !== 'HEAD') ctx.onWeightsServed?.(bytes.byteLength);
  }
  return true;
}
