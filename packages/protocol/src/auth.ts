import * as z from 'zod/mini';
import { clientIdSchema } from './messages.js';

/**
 * Client authentication (protocol/v1.md, section "Handshake and authentication").
 *
 * 1. The client POSTs to /v1/auth/challenge and gets a single-use nonce (short-lived).
 * 2. It connects with socket.io `auth` = {protocolVersion, clientId, publicKey, nonce,
 *    signature, token?}: an Ed25519 signature by its long-term identity key over
 *    authSignedMessage(federationId, clientId, nonce). The enrollment token is sent only
 *    until the identity is enrolled (its first successful handshake).
 */
export const AUTH_DOMAIN = 'flock-auth-v1';

/** Path of the challenge endpoint (POST, no body). */
export const AUTH_CHALLENGE_PATH = '/v1/auth/challenge';

const hex = (bytes: number) => z.string().check(z.regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `must be ${bytes * 2} lowercase hex characters`));

/** Response body of POST /v1/auth/challenge. */
export const authChallengeSchema = z.object({
  nonce: z.string().check(z.regex(/^[A-Za-z0-9_-]{16,128}$/)),
  federationId: z.string(),
  /** ISO time after which the nonce is refused. */
  expiresAt: z.string(),
  /** 'tokens': credentials are required; 'open': anonymous clients are admitted. */
  auth: z.enum(['tokens', 'open']),
});
export type AuthChallenge = z.infer<typeof authChallengeSchema>;

/** Token strings: `flk_<16 hex>.<43 base64url chars>` (id . secret). */
export const enrollmentTokenSchema = z.string().check(z.regex(/^flk_[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$/, 'not an enrollment token (flk_<id>.<secret>)'));

/** The credential fields of the handshake `auth` object (all optional on the wire: open coordinators admit anonymous clients). */
export const handshakeCredentialSchema = z.object({
  protocolVersion: z.int(),
  clientId: clientIdSchema,
  /** Hex Ed25519 public key of the client's long-term identity. */
  publicKey: z.optional(hex(32)),
  nonce: z.optional(z.string().check(z.maxLength(128))),
  /** Hex Ed25519 signature over authSignedMessage(federationId, clientId, nonce). */
  signature: z.optional(hex(64)),
  /** Enrollment token; only until the identity is enrolled. */
  token: z.optional(z.string().check(z.maxLength(256))),
});
export type HandshakeCredential = z.infer<typeof handshakeCredentialSchema>;

/** The bytes a client signs: length-prefixed UTF-8 of (domain, federationId, clientId, nonce). */
export function authSignedMessage(federationId: string, clientId: string, nonce: string): Uint8Array {
  const enc = new TextEncoder();
  const parts = [AUTH_DOMAIN, federationId, clientId, nonce].map((s) => enc.encode(s));
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
  const view = new DataView(out.buffer);
  let o = 0;
  for (const p of parts) {
    view.setUint32(o, p.length, false);
    out.set(p, o + 4);
    o += 4 + p.length;
  }
  return out;
}
