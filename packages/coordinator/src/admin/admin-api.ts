import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { AUTH_CHALLENGE_PATH, FlockError, badMessage, clientIdSchema, type ErrorEnvelope } from '@flock/protocol';
import type { ClientAuthenticator } from '../auth/authenticator.js';
import { constantTimeEqual, parseDuration } from '../auth/tokens.js';
import type { AuditLog } from './audit.js';

/** What the admin API may see and change in the running coordinator. */
export interface AdminContext {
  auth: ClientAuthenticator;
  /** Operator bearer token; undefined disables the admin API (every call is 401). */
  operatorToken: string | undefined;
  /** Model and round endpoints need a client or operator credential. */
  privateModels: boolean;
  audit: AuditLog;
  status(): Record<string, unknown>;
  /** The last rounds' full summaries (cohort, reporters, rejections, metrics): GET /v1/admin/rounds. */
  rounds?(): unknown[];
  onlineClients(): string[];
  /** Closes a live session with the given error; false if the client is offline. */
  disconnect(clientId: string, error: FlockError): boolean;
  pauseRounds(): void;
  resumeRounds(): void;
  roundsPaused(): boolean;
  settings: { rounds: number; fraction: number; roundTimeoutMs: number };
  /** Rate limit of HTTP security requests by remote address (challenges, admin API); undefined = allowed. */
  limitRequest?(remoteAddress: string): FlockError | undefined;
  /** The serving version: GET /v1/admin/serving, POST .../promote, POST .../rollback. */
  serving?: {
    status(): unknown;
    promote(version: number, reason: string): unknown;
    rollback(reason: string): unknown;
  };
  /** Settings that must not change at run time, with the reason (e.g. fraction under DP). */
  lockedSettings?: Partial<Record<'rounds' | 'fraction' | 'roundTimeoutMs', string>>;
}

const STATUS: Partial<Record<string, number>> = { MODEL_NOT_FOUND: 404, RATE_LIMITED: 429, UNAUTHORIZED: 401, NOT_FOUND: 404, BAD_MESSAGE: 400, PAYLOAD_TOO_LARGE: 413, INTERNAL: 500 };

export const mintTokenBodySchema = z
  .object({
    label: z.string().max(256).optional(),
    /** Duration of the unused token: `30m`, `12h`, `7d`... */
    expires: z.string().max(32).optional(),
  })
  .strict();

export const promoteBodySchema = z
  .object({
    version: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    reason: z.string().max(512).optional(),
  })
  .strict();

export const rollbackBodySchema = z.object({ reason: z.string().max(512).optional() }).strict();

export const settingsPatchSchema = z
  .object({
    rounds: z.number().int().positive().max(1_000_000).optional(),
    fraction: z.number().gt(0).max(1).optional(),
    roundTimeoutMs: z.number().int().positive().max(2_147_483_647).optional(),
  })
  .strict()
  .refine((p) => Object.keys(p).length > 0, 'give at least one of rounds, fraction, roundTimeoutMs');

function send(res: ServerResponse, status: number, body: unknown, requestId: string): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', 'x-request-id': requestId });
  res.end(text);
}

function sendError(res: ServerResponse, err: FlockError, requestId: string): void {
  const status = STATUS[err.code] ?? 400;
  const headers = status === 401 ? { 'www-authenticate': 'Bearer realm="flock"' } : {};
  const env: ErrorEnvelope = err.toEnvelope();
  const text = JSON.stringify({ error: env });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', 'x-request-id': requestId, ...headers });
  res.end(text);
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer\s+(\S{1,512})$/i.exec(h) : null;
  return m?.[1];
}

function requestIdOf(req: IncomingMessage): string {
  const h = req.headers['x-request-id'];
  return typeof h === 'string' && /^[A-Za-z0-9._:-]{1,64}$/.test(h) ? h : randomUUID();
}

async function readJson(req: IncomingMessage, limit = 64 * 1024): Promise<unknown> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) throw new FlockError('PAYLOAD_TOO_LARGE', `request body over ${limit} bytes`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new FlockError('BAD_MESSAGE', 'request body is not valid JSON');
  }
}

function isOperator(ctx: AdminContext, req: IncomingMessage): boolean {
  const t = bearer(req);
  return ctx.operatorToken !== undefined && t !== undefined && constantTimeEqual(t, ctx.operatorToken);
}

/**
 * The security part of the HTTP API: POST /v1/auth/challenge, the operator API under
 * /v1/admin/..., and the access check of private model endpoints. Returns true when it
 * answered the request; false lets the read-only API (http-api.ts) handle it.
 */
export function handleSecurityHttp(ctx: AdminContext, req: IncomingMessage, res: ServerResponse): boolean {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const p = url.pathname;
  const limited = (p === AUTH_CHALLENGE_PATH || p.startsWith('/v1/admin')) && req.method !== 'OPTIONS' ? ctx.limitRequest?.(req.socket.remoteAddress ?? '') : undefined;
  if (limited) {
    // A challenge flood would evict other clients' pending nonces; an admin flood, guess tokens.
    res.setHeader('retry-after', String(Math.ceil(Number(limited.details?.retryAfterMs ?? 1000) / 1000)));
    sendError(res, limited, requestIdOf(req));
    return true;
  }
  if (p === AUTH_CHALLENGE_PATH) {
    const rid = requestIdOf(req);
    // CORS (headers and the OPTIONS preflight): http/cors.ts, applied by the server first.
    if (req.method !== 'POST') sendError(res, new FlockError('BAD_MESSAGE', `use POST ${AUTH_CHALLENGE_PATH}`), rid);
    else send(res, 200, ctx.auth.issueChallenge(), rid);
    return true;
  }
  if (p.startsWith('/v1/admin/') || p === '/v1/admin') {
    const rid = requestIdOf(req);
    if (!isOperator(ctx, req)) {
      ctx.audit.record({ action: 'admin.refused', actor: 'anonymous', requestId: rid, outcome: 'refused', method: req.method, path: p, remote: req.socket.remoteAddress });
      sendError(res, new FlockError('UNAUTHORIZED', ctx.operatorToken === undefined ? 'the admin API is disabled: no operator token configured' : 'missing or wrong operator token (Authorization: Bearer <token>)'), rid);
      return true;
    }
    admin(ctx, req, res, p, rid).catch((err: unknown) => {
      const fe = err instanceof FlockError ? err : new FlockError('INTERNAL', 'admin request failed');
      ctx.audit.record({ action: 'admin.error', actor: 'operator', requestId: rid, outcome: 'failed', method: req.method, path: p, code: fe.code });
      if (!res.headersSent) sendError(res, fe, rid);
      else res.end();
    });
    return true;
  }
  if (ctx.privateModels && (p.startsWith('/v1/models') || p === '/v1/rounds') && req.method !== 'OPTIONS') {
    const t = bearer(req);
    if (!(t !== undefined && (ctx.auth.sessionOf(t) !== undefined || isOperator(ctx, req)))) {
      sendError(res, new FlockError('UNAUTHORIZED', 'model endpoints are private on this coordinator: send Authorization: Bearer <session access token or operator token>'), requestIdOf(req));
      return true;
    }
  }
  return false;
}

async function admin(ctx: AdminContext, req: IncomingMessage, res: ServerResponse, p: string, rid: string): Promise<void> {
  const method = req.method ?? 'GET';
  const audit = (action: string, extra: Record<string, unknown> = {}): void => ctx.audit.record({ action, actor: 'operator', requestId: rid, outcome: 'ok', method, path: p, ...extra });
  const route = `${method} ${p}`;
  const runtime = (): { rounds: number; fraction: number; roundTimeoutMs: number } => ({ rounds: ctx.settings.rounds, fraction: ctx.settings.fraction, roundTimeoutMs: ctx.settings.roundTimeoutMs });
  let m: RegExpExecArray | null;
  if (route === 'GET /v1/admin/status') {
    audit('admin.status');
    return send(res, 200, { ...ctx.status(), auth: ctx.auth.mode, roundsPaused: ctx.roundsPaused(), settings: runtime() }, rid);
  }
  if (route === 'GET /v1/admin/rounds') {
    // The operator's view of the rounds, with the cohorts that public endpoints hide under DP.
    audit('admin.rounds.list');
    return send(res, 200, { rounds: ctx.rounds?.() ?? [] }, rid);
  }
  if (route === 'GET /v1/admin/clients') {
    audit('admin.clients.list');
    const online = new Set(ctx.onlineClients());
    const enrolled = (await ctx.auth.registry.listIdentities()).map((i) => ({ ...i, online: online.has(i.clientId) }));
    const known = new Set(enrolled.map((i) => i.clientId));
    // Open mode: anonymous live clients have no registry entry.
    const anonymous = [...online].filter((id) => !known.has(id)).map((clientId) => ({ clientId, publicKey: null, tokenId: null, enrolledAt: null, revokedAt: null, lastSeenAt: null, online: true }));
    return send(res, 200, { clients: [...enrolled, ...anonymous].sort((a, b) => a.clientId.localeCompare(b.clientId)) }, rid);
  }
  if (method === 'POST' && (m = /^\/v1\/admin\/clients\/([^/]+)\/revoke$/.exec(p))) {
    const id = clientIdSchema.safeParse(decodeURIComponent(m[1]!));
    if (!id.success) throw badMessage('client id', id.error);
    const identity = await ctx.auth.registry.getIdentity(id.data);
    if (!identity) throw new FlockError('NOT_FOUND', `no enrolled client '${id.data}'`);
    const changed = await ctx.auth.revokeClient(id.data);
    const disconnected = ctx.disconnect(id.data, new FlockError('CREDENTIAL_REVOKED', 'the operator revoked this client'));
    audit('admin.clients.revoke', { clientId: id.data, changed, disconnected });
    return send(res, 200, { clientId: id.data, revoked: true, changed, disconnected }, rid);
  }
  if (route === 'GET /v1/admin/tokens') {
    audit('admin.tokens.list');
    return send(res, 200, { tokens: await ctx.auth.listTokens() }, rid);
  }
  if (route === 'POST /v1/admin/tokens') {
    const body = mintTokenBodySchema.safeParse(await readJson(req));
    if (!body.success) throw badMessage('POST /v1/admin/tokens body', body.error);
    let expiresInMs: number | undefined;
    if (body.data.expires !== undefined) {
      try {
        expiresInMs = parseDuration(body.data.expires);
      } catch (e) {
        throw new FlockError('BAD_MESSAGE', (e as Error).message);
      }
    }
    const t = await ctx.auth.mintTokenAsync({ label: body.data.label ?? null, ...(expiresInMs !== undefined ? { expiresInMs } : {}) });
    audit('admin.tokens.create', { tokenId: t.id, label: body.data.label ?? null, expiresAt: t.expiresAt });
    return send(res, 201, t, rid);
  }
  if (method === 'POST' && (m = /^\/v1\/admin\/tokens\/(flk_[0-9a-f]{16})\/revoke$/.exec(p))) {
    const r = await ctx.auth.revokeToken(m[1]!);
    if (!r) throw new FlockError('NOT_FOUND', `no enrollment token '${m[1]}'`);
    const disconnected = r.clientId ? ctx.disconnect(r.clientId, new FlockError('CREDENTIAL_REVOKED', 'the operator revoked the enrollment token of this client')) : false;
    audit('admin.tokens.revoke', { tokenId: m[1], changed: r.changed, clientId: r.clientId, disconnected });
    return send(res, 200, { id: m[1], revoked: true, changed: r.changed, clientId: r.clientId, disconnected }, rid);
  }
  if (route === 'POST /v1/admin/rounds/stop') {
    ctx.pauseRounds();
    audit('admin.rounds.stop');
    return send(res, 200, { roundsPaused: true }, rid);
  }
  if (route === 'POST /v1/admin/rounds/start') {
    ctx.resumeRounds();
    audit('admin.rounds.start');
    return send(res, 200, { roundsPaused: false }, rid);
  }
  if (route === 'PATCH /v1/admin/settings') {
    const body = settingsPatchSchema.safeParse(await readJson(req));
    if (!body.success) throw badMessage('PATCH /v1/admin/settings body', body.error);
    for (const key of Object.keys(body.data) as Array<keyof typeof body.data>) {
      const why = ctx.lockedSettings?.[key];
      if (why) throw new FlockError('BAD_MESSAGE', `${key} cannot change while the federation runs: ${why}`, { field: key });
    }
    const before = runtime();
    if (body.data.rounds !== undefined) ctx.settings.rounds = body.data.rounds;
    if (body.data.fraction !== undefined) ctx.settings.fraction = body.data.fraction;
    if (body.data.roundTimeoutMs !== undefined) ctx.settings.roundTimeoutMs = body.data.roundTimeoutMs;
    audit('admin.settings.update', { before, after: runtime() });
    // More rounds after the loop finished: let it run again.
    if (body.data.rounds !== undefined && !ctx.roundsPaused()) ctx.resumeRounds();
    return send(res, 200, { settings: runtime() }, rid);
  }
  if (ctx.serving && route === 'GET /v1/admin/serving') {
    audit('admin.serving.status');
    return send(res, 200, ctx.serving.status(), rid);
  }
  if (ctx.serving && route === 'POST /v1/admin/serving/promote') {
    const body = promoteBodySchema.safeParse(await readJson(req));
    if (!body.success) throw badMessage('POST /v1/admin/serving/promote body', body.error);
    const event = ctx.serving.promote(body.data.version, body.data.reason ?? `operator promoted version ${body.data.version}`);
    audit('admin.serving.promote', { version: body.data.version });
    return send(res, 200, { event, serving: ctx.serving.status() }, rid);
  }
  if (ctx.serving && route === 'POST /v1/admin/serving/rollback') {
    const body = rollbackBodySchema.safeParse(await readJson(req));
    if (!body.success) throw badMessage('POST /v1/admin/serving/rollback body', body.error);
    const event = ctx.serving.rollback(body.data.reason ?? 'operator rolled back');
    audit('admin.serving.rollback');
    return send(res, 200, { event, serving: ctx.serving.status() }, rid);
  }
  throw new FlockError('NOT_FOUND', `no admin endpoint ${route}; see docs/reference/http-api.md`);
}
