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

/** Largest body read into a buffer allocated from its content-length (larger ones: chunks, then one copy). */
const PREALLOCATE_MAX = 8 * 1024 * 1024;

/**
 * Reads a request body of at most `limit` bytes (PAYLOAD_TOO_LARGE beyond, before reading it all).
 * With a content-length (up to 8 MiB), the chunks go straight into one buffer of that size, allocated outside
 * Node's shared pool: no concatenation copy, and the bytes can be viewed as float32 (4-aligned).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new FlockError('PAYLOAD_TOO_LARGE', `request body of ${declared} bytes; at most ${limit}`, { limit }));
  return new Promise((resolve, reject) => {
    // Only up to PREALLOCATE_MAX before any byte arrives: a declared size costs nothing to send.
    const whole = Number.isSafeInteger(declared) && declared >= 0 && declared <= PREALLOCATE_MAX ? Buffer.allocUnsafeSlow(declared) : undefined;
    const chunks: Buffer[] = [];
    let n = 0;
    let inWhole = 0;
    // The error listener stays: a client that goes away after the answer must not leave an
    // unhandled 'error' event (settling the promise twice is a no-op).
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('aborted', onAborted);
    };
    const onData = (c: Buffer): void => {
      n += c.length;
      if (n > limit) {
        cleanup();
        reject(new FlockError('PAYLOAD_TOO_LARGE', `request body over ${limit} bytes`, { limit }));
        return;
      }
      // (Node's HTTP parser delivers exactly content-length bytes; anything else is kept aside.)
      if (whole && chunks.length === 0 && inWhole + c.length <= whole.length) {
        c.copy(whole, inWhole);
        inWhole += c.length;
      } else chunks.push(c);
    };
    const onEnd = (): void => {
      cleanup();
      if (whole && chunks.length === 0) resolve(inWhole === whole.length ? whole : whole.subarray(0, inWhole));
      else if (!whole && chunks.length === 1) resolve(chunks[0]!);
      else resolve(Buffer.concat(whole ? [whole.subarray(0, inWhole), ...chunks] : chunks, n));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onAborted = (): void => onError(new Error('request aborted'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

/** The operator or client credential of a request (`Authorization: Bearer <token>`). */
export function bearerOf(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer\s+(\S{1,512})$/i.exec(h) : null;
  return m?.[1];
}
