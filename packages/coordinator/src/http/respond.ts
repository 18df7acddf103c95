import type { IncomingMessage, ServerResponse } from 'node:http';
import { FlockError } from '@flock/protocol';

// Response helpers of the serving, metrics, OpenAPI and dashboard endpoints. CORS headers are
// not set here: http/server.ts sets them in one place before these handlers run.

const STATUS: Partial<Record<string, number>> = {
  BAD_MESSAGE: 400,
  WRONG_SHAPE: 400,
  NON_FINITE: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  MODEL_NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL: 500,
};

/** The HTTP status of a typed error. */
export function statusOf(err: FlockError): number {
  return STATUS[err.code] ?? 400;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | number> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

/** A typed error as `{error: {code, message, details?}}`; `status` overrides the code's status (415 for a wrong content type). */
export function sendError(res: ServerResponse, err: FlockError, status = statusOf(err)): void {
  const headers: Record<string, string> = {};
  if (status === 401) headers['www-authenticate'] = 'Bearer realm="flock"';
  if (err.code === 'RATE_LIMITED') headers['retry-after'] = String(Math.ceil(Number(err.details?.retryAfterMs ?? 1000) / 1000));
  // A refused oversize body is not read to its end: close the connection after answering.
  if (err.code === 'PAYLOAD_TOO_LARGE') headers.connection = 'close';
  sendJson(res, status, { error: err.toEnvelope() }, headers);
}

/** Reads a request body of at most `limit` bytes (PAYLOAD_TOO_LARGE beyond, before reading it all). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new FlockError('PAYLOAD_TOO_LARGE', `request body of ${declared} bytes; at most ${limit}`, { limit });
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) throw new FlockError('PAYLOAD_TOO_LARGE', `request body over ${limit} bytes`, { limit });
    chunks.push(c);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, n);
}

/** The operator or client credential of a request (`Authorization: Bearer <token>`). */
export function bearerOf(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer\s+(\S{1,512})$/i.exec(h) : null;
  return m?.[1];
}
