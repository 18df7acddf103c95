import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FlockError } from '@flock/protocol';
import { sendError } from '../http/respond.js';
import { DASHBOARD_JS } from './app-script.js';
import { DASHBOARD_CSP, DASHBOARD_CSS, DASHBOARD_HTML } from './page.js';

const require = createRequire(import.meta.url);

/** A file of an installed package (through its package.json: the bundles are not in its exports). */
function packageFile(pkg: string, file: string): Buffer {
  return readFileSync(path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file));
}

/** The dashboard's files: its own, and uPlot and the socket.io client from their packages (no CDN). */
function assets(): Map<string, { type: string; body: Buffer }> {
  const m = new Map<string, { type: string; body: Buffer }>();
  m.set('/dashboard', { type: 'text/html; charset=utf-8', body: Buffer.from(DASHBOARD_HTML) });
  m.set('/dashboard/app.js', { type: 'text/javascript; charset=utf-8', body: Buffer.from(DASHBOARD_JS) });
  m.set('/dashboard/dashboard.css', { type: 'text/css; charset=utf-8', body: Buffer.from(DASHBOARD_CSS) });
  m.set('/dashboard/uplot.js', { type: 'text/javascript; charset=utf-8', body: packageFile('uplot', 'dist/uPlot.iife.min.js') });
  m.set('/dashboard/uplot.css', { type: 'text/css; charset=utf-8', body: packageFile('uplot', 'dist/uPlot.min.css') });
  m.set('/dashboard/socket.io.js', { type: 'text/javascript; charset=utf-8', body: packageFile('socket.io-client', 'dist/socket.io.min.js') });
  return m;
}

let cache: Map<string, { type: string; body: Buffer }> | undefined;

/**
 * GET /dashboard and its files. The page itself is public (it holds nothing); everything it
 * shows comes over the authenticated operator namespace (dashboard/feed.ts).
 */
export function dashboardRoute(limit: (remoteAddress: string) => FlockError | undefined): (req: IncomingMessage, res: ServerResponse, url: URL) => boolean {
  return (req, res, url) => {
    const p = url.pathname === '/dashboard/' ? '/dashboard' : url.pathname;
    if (p !== '/dashboard' && !p.startsWith('/dashboard/')) return false;
    const limited = limit(req.socket.remoteAddress ?? '');
    if (limited) {
      sendError(res, limited);
      return true;
    }
    cache ??= assets();
    const file = cache.get(p);
    if (!file) {
      sendError(res, new FlockError('NOT_FOUND', `no dashboard file ${p}`));
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(res, new FlockError('BAD_MESSAGE', `use GET ${p}`));
      return true;
    }
    res.writeHead(200, {
      'content-type': file.type,
      'content-length': file.body.byteLength,
      'cache-control': 'no-cache',
      'content-security-policy': DASHBOARD_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
    res.end(req.method === 'HEAD' ? undefined : file.body);
    return true;
  };
}
