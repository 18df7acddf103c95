import { afterEach, describe, expect, it } from 'vitest';
import type { ClientIdentity, EnrollmentToken } from '../auth/registry.js';
import { openFederationDatabase, type FederationDatabase } from './database.js';

const open: FederationDatabase[] = [];
afterEach(() => {
  for (const db of open.splice(0)) db.close();
});
function registry() {
  const db = openFederationDatabase(':memory:');
  open.push(db);
  return { db, reg: db.registry };
}
const token = (id: string): EnrollmentToken => ({ id, secretHash: 'ab'.repeat(32), label: 'laptop', createdAt: '2026-01-01T00:00:00.000Z', expiresAt: null, boundClientId: null, revokedAt: null });
const identity = (clientId: string, tokenId: string): ClientIdentity => ({ clientId, publicKey: 'cd'.repeat(32), tokenId, enrolledAt: '2026-01-02T00:00:00.000Z', revokedAt: null, lastSeenAt: null });

describe('SqliteClientRegistry', () => {
  it('stores tokens and identities', () => {
    const { reg } = registry();
    reg.addToken(token('t1'));
    expect(reg.getToken('t1')).toEqual(token('t1'));
    expect(reg.listTokens()).toHaveLength(1);
    expect(reg.enroll('t1', identity('alice', 't1'))).toBe(true);
    expect(reg.getToken('t1')!.boundClientId).toBe('alice');
    expect(reg.getIdentity('alice')).toEqual(identity('alice', 't1'));
    reg.touch('alice', '2026-01-03T00:00:00.000Z');
    expect(reg.getIdentity('alice')!.lastSeenAt).toBe('2026-01-03T00:00:00.000Z');
    expect(reg.revokeIdentity('alice', '2026-01-04T00:00:00.000Z')).toBe(true);
    expect(reg.revokeIdentity('alice', '2026-01-05T00:00:00.000Z')).toBe(false);
    expect(reg.listIdentities().map((i) => i.revokedAt)).toEqual(['2026-01-04T00:00:00.000Z']);
    expect(reg.getToken('nope')).toBeUndefined();
  });

  it('enroll is atomic: a bound, revoked or unknown token, or a taken client id, changes nothing', () => {
    const { db, reg } = registry();
    for (const id of ['t1', 't2', 't3']) reg.addToken(token(id));
    expect(reg.enroll('t1', identity('alice', 't1'))).toBe(true);
    expect(reg.enroll('t1', identity('bob', 't1'))).toBe(false); // already bound
    expect(reg.getIdentity('bob')).toBeUndefined();
    expect(reg.enroll('t2', identity('alice', 't2'))).toBe(false); // client id taken
    expect(reg.getToken('t2')!.boundClientId).toBeNull();
    expect(reg.revokeToken('t3', '2026-01-02T00:00:00.000Z')).toBe(true);
    expect(reg.enroll('t3', identity('carol', 't3'))).toBe(false); // revoked
    expect(reg.enroll('t9', identity('dave', 't9'))).toBe(false); // unknown
    // A failure between the two writes rolls the first back.
    db.sqlite.exec("CREATE TRIGGER fail_bind BEFORE UPDATE OF bound_client_id ON enrollment_tokens BEGIN SELECT RAISE(ABORT, 'injected'); END");
    expect(() => reg.enroll('t2', identity('erin', 't2'))).toThrow(/injected/);
    expect(reg.getIdentity('erin')).toBeUndefined();
    expect(reg.listIdentities().map((i) => i.clientId)).toEqual(['alice']);
  });

  it('two connections racing for one token: exactly one wins', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(tmpdir(), 'flock-reg-'));
    try {
      const a = openFederationDatabase(path.join(dir, 'c.db'));
      const b = openFederationDatabase(path.join(dir, 'c.db'));
      open.push(a, b);
      a.registry.addToken(token('t1'));
      const results = [a.registry.enroll('t1', identity('alice', 't1')), b.registry.enroll('t1', identity('bob', 't1'))];
      expect(results).toEqual([true, false]);
      expect(b.registry.getToken('t1')!.boundClientId).toBe('alice');
    } finally {
      for (const db of open.splice(0)) db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('checks its inputs', () => {
    const { reg } = registry();
    expect(() => reg.addToken({ ...token('x'), id: '' })).toThrow(TypeError);
    reg.addToken(token('t1'));
    expect(() => reg.enroll('t1', identity('alice', 'other'))).toThrow(RangeError);
    expect(() => reg.enroll('', identity('alice', ''))).toThrow(/tokenId/);
  });
});
