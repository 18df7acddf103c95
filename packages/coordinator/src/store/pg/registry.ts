import type { ClientIdentity, ClientRegistry, EnrollmentToken } from '../../auth/registry.js';
import { identity, nonEmpty, token, type IdentityRow, type TokenRow } from '../registry.js';
import type { Db } from './connection.js';

/**
 * The client registry in PostgreSQL (the tables and rules of SqliteClientRegistry). `enroll`
 * locks the token row (SELECT ... FOR UPDATE) for its transaction, so two nodes racing for
 * one token cannot both bind it; a client id taken concurrently loses on the primary key.
 * One query per lookup: a handshake costs two or three round-trips.
 */
export class PgClientRegistry implements ClientRegistry {
  readonly asynchronous = true;

  constructor(private readonly db: Db) {}

  async addToken(t: EnrollmentToken): Promise<void> {
    if (!t || typeof t !== 'object') throw new TypeError('token must be an object');
    nonEmpty('token.id', t.id);
    nonEmpty('token.secretHash', t.secretHash);
    await this.db.query('INSERT INTO enrollment_tokens (id, secret_hash, label, created_at, expires_at, bound_client_id, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
      t.id,
      t.secretHash,
      t.label ?? null,
      nonEmpty('token.createdAt', t.createdAt),
      t.expiresAt ?? null,
      t.boundClientId ?? null,
      t.revokedAt ?? null,
    ]);
  }

  async getToken(id: string): Promise<EnrollmentToken | undefined> {
    const r = await this.db.rows<TokenRow>('SELECT * FROM enrollment_tokens WHERE id = $1', [id]);
    return r[0] && token(r[0]);
  }

  async listTokens(): Promise<EnrollmentToken[]> {
    return (await this.db.rows<TokenRow>('SELECT * FROM enrollment_tokens ORDER BY created_at, id')).map(token);
  }

  async enroll(tokenId: string, id: ClientIdentity): Promise<boolean> {
    nonEmpty('tokenId', tokenId);
    if (!id || typeof id !== 'object') throw new TypeError('identity must be an object');
    nonEmpty('identity.clientId', id.clientId);
    nonEmpty('identity.publicKey', id.publicKey);
    if (id.tokenId !== tokenId) throw new RangeError(`identity.tokenId (${String(id.tokenId)}) must equal tokenId (${tokenId})`);
    const enrolledAt = nonEmpty('identity.enrolledAt', id.enrolledAt);
    const lost = new Error('lost');
    try {
      return await this.db.transaction(async (c) => {
        const t = (await c.query<Pick<TokenRow, 'bound_client_id' | 'revoked_at'>>('SELECT bound_client_id, revoked_at FROM enrollment_tokens WHERE id = $1 FOR UPDATE', [tokenId])).rows[0];
        if (!t || t.bound_client_id !== null || t.revoked_at !== null) return false;
        const ins = await c.query(
          'INSERT INTO identities (client_id, public_key, token_id, enrolled_at, revoked_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (client_id) DO NOTHING',
          [id.clientId, id.publicKey, tokenId, enrolledAt, id.revokedAt ?? null, id.lastSeenAt ?? null],
        );
        if (ins.rowCount !== 1) throw lost; // the client id is taken: roll back
        await c.query('UPDATE enrollment_tokens SET bound_client_id = $1 WHERE id = $2', [id.clientId, tokenId]);
        return true;
      });
    } catch (err) {
      if (err === lost || (err as { code?: unknown }).code === '23505') return false;
      throw err;
    }
  }

  async revokeToken(id: string, at: string): Promise<boolean> {
    return (await this.db.query('UPDATE enrollment_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [nonEmpty('at', at), id])).rowCount === 1;
  }

  async getIdentity(clientId: string): Promise<ClientIdentity | undefined> {
    const r = await this.db.rows<IdentityRow>('SELECT * FROM identities WHERE client_id = $1', [clientId]);
    return r[0] && identity(r[0]);
  }

  async listIdentities(): Promise<ClientIdentity[]> {
    return (await this.db.rows<IdentityRow>('SELECT * FROM identities ORDER BY client_id')).map(identity);
  }

  async revokeIdentity(clientId: string, at: string): Promise<boolean> {
    return (await this.db.query('UPDATE identities SET revoked_at = $1 WHERE client_id = $2 AND revoked_at IS NULL', [nonEmpty('at', at), clientId])).rowCount === 1;
  }

  async touch(clientId: string, at: string): Promise<void> {
    await this.db.query('UPDATE identities SET last_seen_at = $1 WHERE client_id = $2', [nonEmpty('at', at), clientId]);
  }
}
