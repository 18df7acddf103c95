/**
 * The client registry: enrollment tokens minted by the operator and the client identities
 * they were bound to. Two implementations: MemoryClientRegistry (tests, `--db :memory:`
 * without persistence needs), SqliteClientRegistry and PgClientRegistry (store/, durable).
 *
 * Token secrets are never stored: only SHA-256(secret) (hex) is kept, so a leaked database
 * does not let anyone enroll.
 */
export interface EnrollmentToken {
  /** Public token id (the part before the '.' in the token string). */
  id: string;
  /** Hex SHA-256 of the secret part. */
  secretHash: string;
  /** Operator's note, e.g. the device or app it was minted for. */
  label: string | null;
  createdAt: string;
  /** ISO time after which an unused token is refused; null = never expires. */
  expiresAt: string | null;
  /** The client id it was bound to at first use; null while unused. */
  boundClientId: string | null;
  revokedAt: string | null;
}

export interface ClientIdentity {
  clientId: string;
  /** Hex Ed25519 public key the client proved possession of at enrolment. */
  publicKey: string;
  tokenId: string;
  enrolledAt: string;
  revokedAt: string | null;
  lastSeenAt: string | null;
}

/** A value or a promise of it: the memory and SQLite registries answer synchronously, PostgreSQL with promises; callers await. */
type Awaitable<T> = T | Promise<T>;

export interface ClientRegistry {
  /** True for registries that answer with promises (PostgreSQL): use ClientAuthenticator.mintTokenAsync. */
  readonly asynchronous?: boolean;
  addToken(token: EnrollmentToken): Awaitable<void>;
  getToken(id: string): Awaitable<EnrollmentToken | undefined>;
  listTokens(): Awaitable<EnrollmentToken[]>;
  /**
   * Binds an unused token to a new identity, atomically: returns false (and changes nothing)
   * if the token is already bound, revoked, or the client id is taken.
   */
  enroll(tokenId: string, identity: ClientIdentity): Awaitable<boolean>;
  revokeToken(id: string, at: string): Awaitable<boolean>;
  getIdentity(clientId: string): Awaitable<ClientIdentity | undefined>;
  listIdentities(): Awaitable<ClientIdentity[]>;
  revokeIdentity(clientId: string, at: string): Awaitable<boolean>;
  touch(clientId: string, at: string): Awaitable<void>;
}
