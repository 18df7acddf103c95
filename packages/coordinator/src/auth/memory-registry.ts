import type { ClientIdentity, ClientRegistry, EnrollmentToken } from './registry.js';

/** In-memory ClientRegistry (tests, simulations, coordinators without a database). */
export class MemoryClientRegistry implements ClientRegistry {
  private readonly tokens = new Map<string, EnrollmentToken>();
  private readonly identities = new Map<string, ClientIdentity>();

  addToken(token: EnrollmentToken): void {
    if (this.tokens.has(token.id)) throw new Error(`token ${token.id} already exists`);
    this.tokens.set(token.id, { ...token });
  }

  getToken(id: string): EnrollmentToken | undefined {
    const t = this.tokens.get(id);
    return t && { ...t };
  }

  listTokens(): EnrollmentToken[] {
    return [...this.tokens.values()].map((t) => ({ ...t }));
  }

  enroll(tokenId: string, identity: ClientIdentity): boolean {
    // Synchronous check-and-set: atomic within one event loop.
    const t = this.tokens.get(tokenId);
    if (!t || t.boundClientId !== null || t.revokedAt !== null) return false;
    if (this.identities.has(identity.clientId)) return false;
    t.boundClientId = identity.clientId;
    this.identities.set(identity.clientId, { ...identity, tokenId });
    return true;
  }

  revokeToken(id: string, at: string): boolean {
    const t = this.tokens.get(id);
    if (!t || t.revokedAt !== null) return false;
    t.revokedAt = at;
    return true;
  }

  getIdentity(clientId: string): ClientIdentity | undefined {
    const i = this.identities.get(clientId);
    return i && { ...i };
  }

  listIdentities(): ClientIdentity[] {
    return [...this.identities.values()].map((i) => ({ ...i }));
  }

  revokeIdentity(clientId: string, at: string): boolean {
    const i = this.identities.get(clientId);
    if (!i || i.revokedAt !== null) return false;
    i.revokedAt = at;
    return true;
  }

  touch(clientId: string, at: string): void {
    const i = this.identities.get(clientId);
    if (i) i.lastSeenAt = at;
  }
}
