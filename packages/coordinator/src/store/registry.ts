import type { ClientIdentity, ClientRegistry, EnrollmentToken } from '../auth/registry.js';
import type { Sqlite } from './sqlite.js';

export interface TokenRow {
  id: string;
  secret_hash: string;
  label: string | null;
  created_at: string;
  expires_at: string | null;
  bound_client_id: string | null;
  revoked_at: string | null;
}

export interface IdentityRow {
  client_id: string;
  public_key: string;
  token_id: string;
  enrolled_at: string;
  revoked_at: string | null;
  last_seen_at: string | null;
}

export const token = (r: TokenRow): EnrollmentToken => ({
  id: r.id,
  secretHash: r.secret_hash,
  label: r.label,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  boundClientId: r.bound_client_id,
  revokedAt: r.revoked_at,
});

export const identity = (r: IdentityRow): ClientIdentity => ({
  clientId: r.client_id,
  publicKey: r.public_key,
  tokenId: r.token_id,
  enrolledAt: r.enrolled_at,
  revokedAt: r.revoked_at,
  lastSeenAt: r.last_seen_at,
});

export function nonEmpty(name: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw new TypeError(`${name} must be a non-empty string`);
  return v;
}

/**
 * The durable client registry (tables `enrollment_tokens` and `identities`). Only token
 * secret hashes are stored. `enroll` runs as one IMMEDIATE transaction, so two coordinators
 * (or two handshakes) racing for one token cannot both bind it.
 */
export class SqliteClientRegistry implements ClientRegistry {
  constructor(private readonly db: Sqlite) {}

  addToken(t: EnrollmentToken): void {
    if (!t || typeof t !== 'object') throw new TypeError('token must be an object');
    nonEmpty('token.id', t.id);
    nonEmpty('token.secretHash', t.secretHash);
    this.db
      .prepare('INSERT INTO enrollment_tokens (id, secret_hash, label, created_at, expires_at, bound_client_id, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(t.id, t.secretHash, t.label ?? null, nonEmpty('token.createdAt', t.createdAt), t.expiresAt ?? null, t.boundClientId ?? null, t.revokedAt ?? null);
  }

  getToken(id: string): EnrollmentToken | undefined {
    const r = this.db.prepare('SELECT * FROM enrollment_tokens WHERE id = ?').get(id) as TokenRow | undefined;
    return r && token(r);
  }

  listTokens(): EnrollmentToken[] {
    return (this.db.prepare('SELECT * FROM enrollment_tokens ORDER BY created_at, id').all() as TokenRow[]).map(token);
  }

  enroll(tokenId: string, id: ClientIdentity): boolean {
    nonEmpty('tokenId', tokenId);
    if (!id || typeof id !== 'object') throw new TypeError('identity must be an object');
    nonEmpty('identity.clientId', id.clientId);
    nonEmpty('identity.publicKey', id.publicKey);
    if (id.tokenId !== tokenId) throw new RangeError(`identity.tokenId (${String(id.tokenId)}) must equal tokenId (${tokenId})`);
    return this.db
      .transaction((): boolean => {
        const t = this.db.prepare('SELECT bound_client_id, revoked_at FROM enrollment_tokens WHERE id = ?').get(tokenId) as Pick<TokenRow, 'bound_client_id' | 'revoked_at'> | undefined;
        if (!t || t.bound_client_id !== null || t.revoked_at !== null) return false;
        if (this.db.prepare('SELECT 1 FROM identities WHERE client_id = ?').get(id.clientId) !== undefined) return false;
        this.db
          .prepare('INSERT INTO identities (client_id, public_key, token_id, enrolled_at, revoked_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)')
          .run(id.clientId, id.publicKey, tokenId, nonEmpty('identity.enrolledAt', id.enrolledAt), id.revokedAt ?? null, id.lastSeenAt ?? null);
        this.db.prepare('UPDATE enrollment_tokens SET bound_client_id = ? WHERE id = ?').run(id.clientId, tokenId);
        return true;
      })
      .immediate();
  }

  revokeToken(id: string, at: string): boolean {
    return this.db.prepare('UPDATE enrollment_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(nonEmpty('at', at), id).changes === 1;
  }

  getIdentity(clientId: string): ClientIdentity | undefined {
    const r = this.db.prepare('SELECT * FROM identities WHERE client_id = ?').get(clientId) as IdentityRow | undefined;
    return r && identity(r);
  }

  listIdentities(): ClientIdentity[] {
    return (this.db.prepare('SELECT * FROM identities ORDER BY client_id').all() as IdentityRow[]).map(identity);
  }

  revokeIdentity(clientId: string, at: string): boolean {
    return this.db.prepare('UPDATE identities SET revoked_at = ? WHERE client_id = ? AND revoked_at IS NULL').run(nonEmpty('at', at), clientId).changes === 1;
  }

  touch(clientId: string, at: string): void {
    this.db.prepare('UPDATE identities SET last_seen_at = ? WHERE client_id = ?').run(nonEmpty('at', at), clientId);
  }
}
