import type { IncomingMessage, ServerResponse } from 'node:http';
import { FlockError } from '@flock/protocol';
import { handlePredict, isPredictPath, type PredictContext } from './predict.js';
import { sendError, sendJson } from './respond.js';
import { openApiDocument } from './openapi.js';

/** The endpoints added for serving and monitoring, each optional. */
export interface ServingRoutes {
  predict?: PredictContext;
  /** Extra routes (metrics, OpenAPI, dashboard): return true when the request was answered. */
  extra?: Array<(req: IncomingMessage, res: ServerResponse, url: URL) => boolean>;
}

/** Paths whose responses carry public CORS headers (server.ts setCors). */
export function isPublicServingPath(pathname: string): boolean {
  return isPredictPath(pathname) || pathname === '/v1/openapi.json';
}

/** Returns true when the request was answered. */
export function handleServingHttp(ctx: ServingRoutes, req: IncomingMessage, res: ServerResponse): boolean {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (ctx.predict && isPredictPath(url.pathname)) {
    handlePredict(ctx.predict, req, res, url).catch(() => {
      if (!res.headersSent) sendError(res, new FlockError('INTERNAL', 'prediction failed'));
    });
    return true;
  }
  if (url.pathname === '/v1/openapi.json') {
    if (req.method !== 'GET' && req.method !== 'HEAD') sendError(res, new FlockError('BAD_MESSAGE', 'use GET /v1/openapi.json'), 405);
    else sendJson(res, 200, openApiDocument(), { 'cache-control': 'no-cache' });
    return true;
  }
  for (const route of ctx.extra ?? []) if (route(req, res, url)) return true;
  return false;
}
