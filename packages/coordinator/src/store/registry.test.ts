import { afterEach, beforeEach, expect, it } from 'vitest';
import type { ClientIdentity, EnrollmentToken } from '../auth/registry.js';
import { eachBackend, type Place } from './backends.test-support.js';
import type { FederationStore } from './types.js';

const token = (id: string): EnrollmentToken => ({ id, secretHash: 'ab'.repeat(32), label: 'laptop', createdAt: '2026-01-01T00:00:00.000Z', expiresAt: null, boundClientId: null, revokedAt: null });
const identity = (clientId: string, tokenId: string): ClientIdentity => ({ clientId, publicKey: 'cd'.repeat(32), tokenId, enrolledAt: '2026-01-02T00:00:00.000Z', revokedAt: null, lastSeenAt: null });
/** The error a sync-or-async call throws or rejects with. */
const failure = (fn: () => unknown): Promise<unknown> => Promise.resolve().then(fn).then(() => undefined, (e: unknown) => e);

eachBackend('client registry', (backend) => {
  let place: Place;
  let db: FederationStore;
  beforeEach(async () => {
    place = await backend.place();
    db = await place.open();
  });
  afterEach(async () => {
    await place.dispose();
  });

  it('stores tokens and identities', async () => {
    const reg = db.registry;
    await reg.addToken(token('t1'));
    expect(await reg.getToken('t1')).toEqual(token('t1'));
    expect(await reg.listTokens()).toHaveLength(1);
    expect(await reg.enroll('t1', identity('alice', 't1'))).toBe(true);
    expect((await reg.getToken('t1'))!.boundClientId).toBe('alice');
    expect(await reg.getIdentity('alice')).toEqual(identity('alice', 't1'));
    await reg.touch('alice', '2026-01-03T00:00:00.000Z');
    expect((await reg.getIdentity('alice'))!.lastSeenAt).toBe('2026-01-03T00:00:00.000Z');
    expect(await reg.revokeIdentity('alice', '2026-01-04T00:00:00.000Z')).toBe(true);
    expect(await reg.revokeIdentity('alice', '2026-01-05T00:00:00.000Z')).toBe(false);
    expect((await reg.listIdentities()).map((i) => i.revokedAt)).toEqual(['2026-01-04T00:00:00.000Z']);
    expect(await reg.getToken('nope')).toBeUndefined();
  });

  it('enroll is atomic: a bound, revoked or unknown token, or a taken client id, changes nothing', async () => {
    const reg = db.registry;
    for (const id of ['t1', 't2', 't3']) await reg.addToken(token(id));
    expect(await reg.enroll('t1', identity('alice', 't1'))).toBe(true);
    expect(await reg.enroll('t1', identity('bob', 't1'))).toBe(false); // already bound
    expect(await reg.getIdentity('bob')).toBeUndefined();
    expect(await reg.enroll('t2', identity('alice', 't2'))).toBe(false); // client id taken
    expect((await reg.getToken('t2'))!.boundClientId).toBeNull();
    expect(await reg.revokeToken('t3', '2026-01-02T00:00:00.000Z')).toBe(true);
    expect(await reg.enroll('t3', identity('carol', 't3'))).toBe(false); // revoked
    expect(await reg.enroll('t9', identity('dave', 't9'))).toBe(false); // unknown
    // A failure between the two writes rolls the first back.
    await place.fault('enrollment_tokens', 'UPDATE', 'injected');
    expect(String(await failure(() => reg.enroll('t2', identity('erin', 't2'))))).toMatch(/injected/);
    expect(await reg.getIdentity('erin')).toBeUndefined();
    expect((await reg.listIdentities()).map((i) => i.clientId)).toEqual(['alice']);
  });

  it('two connections enrolling one token one after the other: the first wins', async () => {
    const other = await place.open();
    await db.registry.addToken(token('t1'));
    expect(await db.registry.enroll('t1', identity('alice', 't1'))).toBe(true);
    expect(await other.registry.enroll('t1', identity('bob', 't1'))).toBe(false);
    expect((await other.registry.getToken('t1'))!.boundClientId).toBe('alice');
  });

  it('checks its inputs', async () => {
    const reg = db.registry;
    expect(await failure(() => reg.addToken({ ...token('x'), id: '' }))).toBeInstanceOf(TypeError);
    await reg.addToken(token('t1'));
    expect(await failure(() => reg.enroll('t1', identity('alice', 'other')))).toBeInstanceOf(RangeError);
    expect(String(await failure(() => reg.enroll('', identity('alice', ''))))).toMatch(/tokenId/);
  });
});
