import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { FlockError } from '@flock/protocol';
import type { ClientRegistry, EnrollmentToken } from './registry.js';

/** Hex SHA-256 of a token secret (what the registry stores). */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time equality of two strings (compared as SHA-256 digests, so lengths leak nothing either). */
export function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

/** Splits `flk_<id>.<secret>`; undefined when malformed. */
export function parseToken(token: string): { id: string; secret: string } | undefined {
  const m = /^(flk_[0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/.exec(token);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

/**
 * Durations: `30s`, `15m`, `12h`, `7d`, `2w`, or plain milliseconds. Returns milliseconds.
 * Throws RangeError on anything else.
 */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$/.exec(text.trim());
  if (!m) throw new RangeError(`not a duration: '${text}' (use e.g. 30m, 12h, 7d)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[(m[2] ?? 'ms') as 'ms'];
  const ms = Math.round(Number(m[1]) * unit);
  if (!(ms > 0) || !Number.isSafeInteger(ms)) throw new RangeError(`duration out of range: '${text}'`);
  return ms;
}

export interface MintOptions {
  label?: string | null;
  /** Lifetime of the unused token, ms; undefined = never expires. */
  expiresInMs?: number;
  now?: Date;
}

/** A registry that answers synchronously (memory, SQLite). */
export type SyncClientRegistry = { [K in keyof ClientRegistry]: ClientRegistry[K] extends (...a: infer A) => infer R ? (...a: A) => Exclude<R, Promise<unknown>> : ClientRegistry[K] };

/**
 * Mints an enrollment token, stores its hash in the registry and returns the token string
 * (shown once). With an asynchronous registry (PostgreSQL) the result is a promise that
 * resolves once the hash is stored.
 */
export function mintToken(registry: SyncClientRegistry, options?: MintOptions): { token: string; record: EnrollmentToken };
export function mintToken(registry: ClientRegistry, options?: MintOptions): { token: string; record: EnrollmentToken } | Promise<{ token: string; record: EnrollmentToken }>;
export function mintToken(registry: ClientRegistry, options: MintOptions = {}): { token: string; record: EnrollmentToken } | Promise<{ token: string; record: EnrollmentToken }> {
  const now = options.now ?? new Date();
  const id = `flk_${randomBytes(8).toString('hex')}`;
  const secret = randomBytes(32).toString('base64url');
  const record: EnrollmentToken = {
    id,
    secretHash: hashSecret(secret),
    label: options.label ?? null,
    createdAt: now.toISOString(),
    expiresAt: options.expiresInMs !== undefined ? new Date(now.getTime() + options.expiresInMs).toISOString() : null,
    boundClientId: null,
    revokedAt: null,
  };
  const minted = { token: `${id}.${secret}`, record };
  const stored = registry.addToken(record);
  return stored instanceof Promise ? stored.then(() => minted) : minted;
}

/**
 * Checks a presented token string against the registry (without binding it). Throws the
 * FlockError a handshake should be refused with.
 */
export function checkToken(registry: SyncClientRegistry, token: string, now?: Date): EnrollmentToken;
export function checkToken(registry: ClientRegistry, token: string, now?: Date): EnrollmentToken | Promise<EnrollmentToken>;
export function checkToken(registry: ClientRegistry, token: string, now = new Date()): EnrollmentToken | Promise<EnrollmentToken> {
  const parts = parseToken(token);
  if (!parts) throw new FlockError('UNAUTHORIZED', 'malformed enrollment token (expected flk_<id>.<secret>)');
  const verify = (record: EnrollmentToken | undefined): EnrollmentToken => {
    // The hash comparison runs even for unknown ids, so timing does not reveal which ids exist.
    const ok = constantTimeEqual(hashSecret(parts.secret), record?.secretHash ?? '0'.repeat(64));
    if (!record || !ok) throw new FlockError('UNAUTHORIZED', 'unknown or invalid enrollment token');
    if (record.revokedAt !== null) throw new FlockError('CREDENTIAL_REVOKED', `enrollment token ${record.id} was revoked`);
    if (record.boundClientId !== null) throw new FlockError('TOKEN_ALREADY_USED', `enrollment token ${record.id} is already bound to a client identity`);
    if (record.expiresAt !== null && Date.parse(record.expiresAt) <= now.getTime()) throw new FlockError('CREDENTIAL_EXPIRED', `enrollment token ${record.id} expired at ${record.expiresAt}`);
    return record;
  };
  const found = registry.getToken(parts.id);
  return found instanceof Promise ? found.then(verify) : verify(found);
}

/** The public view of a token (no secret hash) for listings. */
export function publicToken(t: EnrollmentToken): Omit<EnrollmentToken, 'secretHash'> & { status: 'unused' | 'bound' | 'revoked' | 'expired' } {
  const { secretHash: _omit, ...rest } = t;
  const status = t.revokedAt ? 'revoked' : t.boundClientId ? 'bound' : t.expiresAt && Date.parse(t.expiresAt) <= Date.now() ? 'expired' : 'unused';
  return { ...rest, status };
}
