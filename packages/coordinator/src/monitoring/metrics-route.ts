import type { IncomingMessage, ServerResponse } from 'node:http';
import { FlockError } from '@flock/protocol';
import { sendError } from '../http/respond.js';
import type { CoordinatorMetrics } from './metrics.js';

export interface MetricsRouteOptions {
  metrics: CoordinatorMetrics;
  /** `--public-metrics`: no operator token needed. */
  publicMetrics: boolean;
  /** Confidential rounds (DP): participation figures only with the operator token, even when public. */
  confidential: boolean;
  isOperator(req: IncomingMessage): boolean;
  limit(remoteAddress: string): FlockError | undefined;
}

/** GET /metrics in the Prometheus text format. */
export function metricsRoute(o: MetricsRouteOptions): (req: IncomingMessage, res: ServerResponse, url: URL) => boolean {
  return (req, res, url) => {
    if (url.pathname !== '/metrics') return false;
    const limited = o.limit(req.socket.remoteAddress ?? '');
    if (limited) {
      sendError(res, limited);
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(res, new FlockError('BAD_MESSAGE', 'use GET /metrics'));
      return true;
    }
    const operator = o.isOperator(req);
    if (!o.publicMetrics && !operator) {
      sendError(res, new FlockError('UNAUTHORIZED', '/metrics needs the operator token (Authorization: Bearer <token>), or start the coordinator with --public-metrics'));
      return true;
    }
    o.metrics
      .text(operator || !o.confidential)
      .then((text) => {
        res.writeHead(200, { 'content-type': o.metrics.contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      })
      .catch(() => {
        if (!res.headersSent) sendError(res, new FlockError('INTERNAL', 'collecting metrics failed'));
      });
    return true;
  };
}
