import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { CHUNK_ENVELOPE_BYTES, SEAL_OVERHEAD_BYTES } from '@flock/protocol';
import { handleSecurityHttp, type AdminContext } from '../admin/admin-api.js';
import { handleHttp, type HttpApiContext } from '../http-api.js';
import { applyCors, type CorsOptions } from './cors.js';
import type { Logger } from '../logger.js';
import type { CoordinatorSettings } from '../options.js';
import { handleServingHttp, type ServingRoutes } from './routes.js';

export interface HttpServerOptions {
  /** The security and operator admin API (admin/admin-api.ts), tried first. */
  security: AdminContext;
  /** The read-only model and round API (http-api.ts). */
  api: HttpApiContext;
  logger: Logger;
  /** Predict, metrics, OpenAPI and dashboard endpoints (http/routes.ts). */
  serving?: ServingRoutes;
  /** PEM certificate chain and key: serve https instead of http. */
  tls?: { cert: string | Buffer; key: string | Buffer } | undefined;
  /** Origins allowed to call the API from a browser (cors.ts); the admin API is same-origin only. */
  cors: CorsOptions;
}

/**
 * The coordinator's HTTP(S) server: CORS for /v1/ outside the admin API (cors.ts: headers on
 * every answer, errors included, and preflights), the security/admin API, then the model API,
 * then a JSON 404 (socket.io, attached to the same server, answers its own path).
 */
export function createHttpServer(o: HttpServerOptions): HttpServer | HttpsServer {
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      // One place for CORS: the public API, predict and OpenAPI included (cors.ts).
      const path = req.url ?? '/';
      if (path.startsWith('/v1/') && !path.startsWith('/v1/admin') && applyCors(req, res, o.cors)) return;
      if (handleSecurityHttp(o.security, req, res)) return;
      if (o.serving && handleServingHttp(o.serving, req, res)) return;
      if (!handleHttp(o.api, req, res)) {
        // socket.io handles its own path; anything else is a 404.
        if (!req.url?.startsWith('/socket.io')) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'MODEL_NOT_FOUND', message: 'not found; the API lives under /v1' } }));
        }
      }
    } catch (err) {
      o.logger.error({ err }, 'http handler failed');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    }
  };
  return o.tls ? createHttpsServer({ cert: o.tls.cert, key: o.tls.key }, handler) : createServer(handler);
}

/** Starts listening; resolves once bound. */
export async function listen(server: HttpServer | HttpsServer, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The base URL (http(s)://host:port) of a listening server. */
export function serverUrl(server: HttpServer | HttpsServer, tls: boolean): string {
  const addr = server.address() as AddressInfo | null;
  if (!addr) throw new Error('coordinator is not listening');
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `${tls ? 'https' : 'http'}://${host}:${addr.port}`;
}

/** Largest engine.io message by default: a sealed chunk and its envelope, or what secure aggregation / plaintext updates need. */
export function frameBound(settings: CoordinatorSettings, numParams: number): number {
  let bound = settings.uploads.chunkBytes + SEAL_OVERHEAD_BYTES + CHUNK_ENVELOPE_BYTES;
  if (settings.secureAggregation.enabled) bound = Math.max(bound, (numParams + 1) * 4 + 1024 * 1024);
  if (!settings.uploads.sealRequired) bound = Math.max(bound, numParams * 4 + 1024 * 1024);
  return bound;
}
