import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Cross-origin access to the coordinator's HTTP API (docs/reference/http-api.md, CORS), so a web
 * app served from its own origin can join. The SDK sends `authorization` (session token, for
 * private models), `if-none-match` (revalidation) and `content-type`; pages read `etag` and
 * `x-flock-model-hash`. The SDK sends no cookies, so credentials are never allowed.
 */
export interface CorsOptions {
  /** Origins allowed to call the API: `['*']` (the default) for any, else exact origins such as `https://app.example`. */
  origins: readonly string[];
}

export const CORS_ALLOW_HEADERS = 'authorization, content-type, if-none-match, x-flock-shape';
export const CORS_EXPOSE_HEADERS = 'etag, x-flock-model-hash, x-flock-model-version, x-flock-shape, retry-after';
export const CORS_ALLOW_METHODS = 'GET, HEAD, POST, OPTIONS';
/** Seconds a browser may cache a preflight answer. */
export const CORS_MAX_AGE = 600;

/** The default: any origin (the model endpoints are public unless --private-models). */
export const DEFAULT_CORS_ORIGINS: readonly string[] = ['*'];

/** True when a request from `origin` may use the API (no Origin header: not a browser's cross-origin request). */
export function originAllowed(origin: string | undefined, options: CorsOptions): boolean {
  if (origin === undefined) return true;
  return options.origins.includes('*') || options.origins.includes(origin);
}

/**
 * Sets the CORS headers of one request on `res` (with setHeader, so they survive into error
 * responses: 401, 404, 429...) and answers a preflight. Returns true when it answered the
 * request (an OPTIONS preflight: 204), false when the caller goes on to answer it. A request
 * from an origin that is not allowed gets no CORS headers (the browser then hides the answer).
 */
export function applyCors(req: IncomingMessage, res: ServerResponse, options: CorsOptions): boolean {
  const origin = typeof req.headers.origin === 'string' ? req.headers.origin : undefined;
  const any = options.origins.includes('*');
  if (!any) res.setHeader('vary', 'origin');
  const allowed = origin !== undefined ? originAllowed(origin, options) : any;
  if (allowed) {
    res.setHeader('access-control-allow-origin', any ? '*' : origin!);
    res.setHeader('access-control-expose-headers', CORS_EXPOSE_HEADERS);
  }
  if (req.method !== 'OPTIONS') return false;
  const headers: Record<string, string> = allowed
    ? { 'access-control-allow-methods': CORS_ALLOW_METHODS, 'access-control-allow-headers': CORS_ALLOW_HEADERS, 'access-control-max-age': String(CORS_MAX_AGE) }
    : {};
  res.writeHead(204, headers);
  res.end();
  return true;
}
