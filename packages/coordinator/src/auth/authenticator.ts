import { randomBytes } from 'node:crypto';
import { FlockError, authSignedMessage, type HandshakeAuth } from '@flock/protocol';
import { fromHex, verifyDetached, type PlatformCrypto } from '@flock/privacy';
import { ChallengeStore, type Challenges } from './challenges.js';
import type { ClientRegistry } from './registry.js';
import { checkToken, mintToken, publicToken, constantTimeEqual, type MintOptions, type SyncClientRegistry } from './tokens.js';
import { nullAuditLog, type AuditLog } from '../admin/audit.js';

export type AuthMode = 'tokens' | 'open';

export interface ClientAuthenticatorOptions {
  mode: AuthMode;
  federationId: string;
  registry: ClientRegistry;
  platform: PlatformCrypto;
  audit?: AuditLog;
  /** Lifetime of a handshake nonce, ms (default 60 s). */
  challengeTtlMs?: number;
  /** Where nonces come from (default: this process's memory; a fleet shares them: fleet/challenges.ts). */
  challenges?: Challenges | undefined;
}

/** Result of a successful handshake check. */
export interface Admission {
  /** True when the client proved its enrolled identity (tokens mode). */
  authenticated: boolean;
  enrolled: boolean;
}

/**
 * Verifies socket.io handshakes: challenge nonce (single use), Ed25519 signature by the
 * client's identity key, enrollment token at first use (bound atomically to clientId +
 * key), revocation. Every refusal is a FlockError and an audit record.
 */
export class ClientAuthenticator {
  readonly mode: AuthMode;
  readonly registry: ClientRegistry;
  readonly challenges: Challenges;
  readonly audit: AuditLog;
  private readonly federationId: string;
  private readonly platform: PlatformCrypto;
  /** HTTP bearer tokens of live sessions (private model endpoints) -> client id. */
  private readonly accessTokens = new Map<string, string>();

  constructor(o: ClientAuthenticatorOptions) {
    this.mode = o.mode;
    this.registry = o.registry;
    this.federationId = o.federationId;
    this.platform = o.platform;
    this.audit = o.audit ?? nullAuditLog;
    this.challenges = o.challenges ?? new ChallengeStore(o.challengeTtlMs ?? 60_000);
  }

  issueChallenge(): { nonce: string; federationId: string; expiresAt: string; auth: AuthMode } {
    const c = this.challenges.issue();
    return { nonce: c.nonce, federationId: this.federationId, expiresAt: new Date(c.expiresAt).toISOString(), auth: this.mode };
  }

  /** Mints a token in a synchronous registry (memory, SQLite); see {@link mintTokenAsync} for any registry. */
  mintToken(options: MintOptions = {}): { token: string; id: string; expiresAt: string | null } {
    if (this.registry.asynchronous) throw new TypeError('this registry is asynchronous (PostgreSQL): use mintTokenAsync()');
    const { token, record } = mintToken(this.registry as SyncClientRegistry, options);
    return { token, id: record.id, expiresAt: record.expiresAt };
  }

  /** Mints a token; resolves once its hash is stored (any registry). */
  async mintTokenAsync(options: MintOptions = {}): Promise<{ token: string; id: string; expiresAt: string | null }> {
    const { token, record } = await mintToken(this.registry, options);
    return { token, id: record.id, expiresAt: record.expiresAt };
  }

  /** Checks a handshake; throws the FlockError to refuse it with (and audits the refusal). */
  async admit(auth: HandshakeAuth, requestId: string, remote?: string): Promise<Admission> {
    try {
      return await this.check(auth, requestId);
    } catch (err) {
      const fe = err instanceof FlockError ? err : new FlockError('INTERNAL', 'authentication failed');
      this.audit.record({ action: 'auth.refused', actor: `client:${auth.clientId}`, requestId, outcome: 'refused', code: fe.code, reason: fe.message, ...(remote ? { remote } : {}) });
      throw fe;
    }
  }

  private async check(auth: HandshakeAuth, requestId: string): Promise<Admission> {
    // Open mode admits everyone as anonymous: credentials, if sent, are not checked.
    if (this.mode === 'open') return { authenticated: false, enrolled: false };
    if (auth.publicKey === undefined || auth.signature === undefined || auth.nonce === undefined) {
      throw new FlockError('UNAUTHORIZED', 'this coordinator requires client credentials: publicKey, nonce (POST /v1/auth/challenge) and signature; enroll with a token from the operator');
    }
    if (!/^[0-9a-f]{64}$/.test(auth.publicKey) || !/^[0-9a-f]{128}$/.test(auth.signature)) {
      throw new FlockError('UNAUTHORIZED', 'publicKey must be 64 and signature 128 lowercase hex characters');
    }
    // The nonce is burnt by any attempt, good or bad: a captured handshake cannot be replayed.
    if (!(await this.challenges.consume(auth.nonce))) {
      throw new FlockError('CHALLENGE_INVALID', 'the handshake nonce is unknown, expired or already used; fetch a fresh one for every connection');
    }
    const message = authSignedMessage(this.federationId, auth.clientId, auth.nonce);
    const good = await verifyDetached(this.platform, fromHex(auth.publicKey), message, fromHex(auth.signature));
    if (!good) throw new FlockError('UNAUTHORIZED', 'the handshake signature does not verify under the presented public key');
    const now = new Date();
    const known = await this.registry.getIdentity(auth.clientId);
    if (known) {
      if (known.revokedAt !== null) throw new FlockError('CREDENTIAL_REVOKED', `client ${auth.clientId} was revoked at ${known.revokedAt}`);
      if (!constantTimeEqual(known.publicKey, auth.publicKey)) {
        throw new FlockError('UNAUTHORIZED', `client id '${auth.clientId}' is enrolled with another identity key`);
      }
      const token = await this.registry.getToken(known.tokenId);
      if (token?.revokedAt) throw new FlockError('CREDENTIAL_REVOKED', `the enrollment token of client ${auth.clientId} was revoked`);
      await this.registry.touch(auth.clientId, now.toISOString());
      return { authenticated: true, enrolled: false };
    }
    if (auth.token === undefined) {
      throw new FlockError('UNAUTHORIZED', `client '${auth.clientId}' is not enrolled: present an enrollment token (flock token create) at first connection`);
    }
    const record = await checkToken(this.registry, auth.token, now);
    const bound = await this.registry.enroll(record.id, {
      clientId: auth.clientId,
      publicKey: auth.publicKey,
      tokenId: record.id,
      enrolledAt: now.toISOString(),
      revokedAt: null,
      lastSeenAt: now.toISOString(),
    });
    if (!bound) {
      // Lost a race with another enrolment of the same token or client id.
      throw new FlockError('TOKEN_ALREADY_USED', `enrollment token ${record.id} or client id '${auth.clientId}' was enrolled concurrently`);
    }
    this.audit.record({ action: 'client.enroll', actor: `client:${auth.clientId}`, requestId, outcome: 'ok', tokenId: record.id, publicKey: auth.publicKey });
    return { authenticated: true, enrolled: true };
  }

  /** Revokes a client identity (and its token). Returns false if unknown or already revoked. */
  async revokeClient(clientId: string): Promise<boolean> {
    const id = await this.registry.getIdentity(clientId);
    if (!id) return false;
    const at = new Date().toISOString();
    const changed = await this.registry.revokeIdentity(clientId, at);
    await this.registry.revokeToken(id.tokenId, at);
    for (const [t, c] of this.accessTokens) if (c === clientId) this.accessTokens.delete(t);
    return changed;
  }

  /** Revokes a token; if it is bound, the identity too. Returns the bound client id (or null), or undefined if unknown. */
  async revokeToken(tokenId: string): Promise<{ changed: boolean; clientId: string | null } | undefined> {
    const t = await this.registry.getToken(tokenId);
    if (!t) return undefined;
    const changed = await this.registry.revokeToken(tokenId, new Date().toISOString());
    if (t.boundClientId) await this.revokeClient(t.boundClientId);
    return { changed, clientId: t.boundClientId };
  }

  async listTokens(): Promise<ReturnType<typeof publicToken>[]> {
    return (await this.registry.listTokens()).map(publicToken);
  }

  /** A bearer token for the HTTP API, valid while the session lives. */
  openSession(clientId: string): string {
    const t = randomBytes(24).toString('base64url');
    this.accessTokens.set(t, clientId);
    return t;
  }

  closeSession(token: string): void {
    this.accessTokens.delete(token);
  }

  /** The client id of a live session's bearer token (exact map lookup on a 192-bit random key). */
  sessionOf(token: string): string | undefined {
    return this.accessTokens.get(token);
  }
}
