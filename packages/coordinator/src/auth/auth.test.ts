import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FlockError, authSignedMessage } from '@flock/protocol';
import { MemoryClientRegistry } from './memory-registry.js';
import { checkToken, constantTimeEqual, hashSecret, mintToken, parseDuration, parseToken, publicToken } from './tokens.js';
import { ChallengeStore } from './challenges.js';

const identity = (clientId: string, tokenId: string) => ({ clientId, publicKey: 'ab'.repeat(32), tokenId, enrolledAt: 't', revokedAt: null, lastSeenAt: null });

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof FlockError ? e.code : 'not a FlockError';
  }
  return undefined;
}

describe('enrollment tokens', () => {
  it('mints flk_<id>.<secret>, stores only the SHA-256 of the secret, and checks it', () => {
    const reg = new MemoryClientRegistry();
    const { token, record } = mintToken(reg, { label: 'phone' });
    expect(token).toMatch(/^flk_[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$/);
    const parts = parseToken(token)!;
    expect(parts.id).toBe(record.id);
    expect(reg.getToken(record.id)!.secretHash).toBe(hashSecret(parts.secret));
    expect(JSON.stringify(reg.listTokens())).not.toContain(parts.secret);
    expect(checkToken(reg, token).id).toBe(record.id);
    expect(publicToken(record)).not.toHaveProperty('secretHash');
  });

  it('refuses malformed, unknown, wrong-secret, revoked, bound and expired tokens with typed codes', () => {
    const reg = new MemoryClientRegistry();
    const { token, record } = mintToken(reg);
    expect(code(() => checkToken(reg, 'nope'))).toBe('UNAUTHORIZED');
    expect(code(() => checkToken(reg, `flk_${'0'.repeat(16)}.${'A'.repeat(43)}`))).toBe('UNAUTHORIZED');
    expect(code(() => checkToken(reg, `${record.id}.${'A'.repeat(43)}`))).toBe('UNAUTHORIZED');
    const old = mintToken(reg, { expiresInMs: 1000, now: new Date(Date.now() - 10_000) });
    expect(code(() => checkToken(reg, old.token))).toBe('CREDENTIAL_EXPIRED');
    expect(reg.enroll(record.id, identity('a', record.id))).toBe(true);
    expect(code(() => checkToken(reg, token))).toBe('TOKEN_ALREADY_USED');
    const r = mintToken(reg);
    reg.revokeToken(r.record.id, new Date().toISOString());
    expect(code(() => checkToken(reg, r.token))).toBe('CREDENTIAL_REVOKED');
  });

  it('parses durations', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('12h')).toBe(43_200_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('1500')).toBe(1500);
    for (const bad of ['', 'soon', '-1h', '0s', '1y']) expect(() => parseDuration(bad)).toThrow(RangeError);
  });

  it('constantTimeEqual is string equality', () => {
    fc.assert(fc.property(fc.string(), fc.string(), (a, b) => constantTimeEqual(a, b) === (a === b)));
  });
});

describe('MemoryClientRegistry', () => {
  it('binds a token once, to one client id; revocation sticks', () => {
    const reg = new MemoryClientRegistry();
    const t1 = mintToken(reg).record;
    const t2 = mintToken(reg).record;
    expect(reg.enroll(t1.id, identity('a', t1.id))).toBe(true);
    expect(reg.enroll(t1.id, identity('b', t1.id))).toBe(false); // token used
    expect(reg.enroll(t2.id, identity('a', t2.id))).toBe(false); // client id taken
    expect(reg.getToken(t2.id)!.boundClientId).toBeNull(); // nothing changed
    expect(reg.enroll('flk_missing', identity('c', 'flk_missing'))).toBe(false);
    expect(reg.getToken(t1.id)!.boundClientId).toBe('a');
    expect(reg.revokeIdentity('a', 'now')).toBe(true);
    expect(reg.revokeIdentity('a', 'later')).toBe(false);
    expect(reg.getIdentity('a')!.revokedAt).toBe('now');
    reg.touch('a', 'seen');
    expect(reg.getIdentity('a')!.lastSeenAt).toBe('seen');
    // Returned records are copies.
    reg.getIdentity('a')!.revokedAt = null;
    expect(reg.getIdentity('a')!.revokedAt).toBe('now');
  });
});

describe('ChallengeStore', () => {
  it('nonces are single-use, expire, and the store stays bounded', () => {
    const s = new ChallengeStore(1000, 3);
    const a = s.issue(0);
    expect(s.consume(a.nonce, 10)).toBe(true);
    expect(s.consume(a.nonce, 10)).toBe(false);
    const b = s.issue(0);
    expect(s.consume(b.nonce, 1000)).toBe(false);
    const many = [s.issue(0), s.issue(0), s.issue(0), s.issue(0)];
    expect(s.size).toBe(3);
    expect(s.consume(many[0]!.nonce, 1)).toBe(false);
    expect(s.consume(many[3]!.nonce, 1)).toBe(true);
    expect(s.consume('never-issued', 1)).toBe(false);
  });
});

describe('authSignedMessage', () => {
  it('is length-prefixed, so field boundaries cannot shift', () => {
    const a = authSignedMessage('fed', 'ab', 'c');
    const b = authSignedMessage('fed', 'a', 'bc');
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(Buffer.from(authSignedMessage('fed', 'ab', 'c')).equals(Buffer.from(a))).toBe(true);
  });
});
