import { describe, expect, it } from 'vitest';
import { nodePlatform } from '../platform/node.js';
import { generateBoxKeyPair } from './box.js';
import { generateIdentityKeyPair } from './sign.js';
import {
  announceCoordinatorSealKey,
  checkClientSealKeyRecord,
  clientSealKeyRecord,
  deriveCoordinatorSealKey,
  openChunk,
  sealChunk,
  sealSharedKey,
  verifyCoordinatorSealKey,
  type SealedUploadContext,
} from './sealed-update.js';

const p = nodePlatform;
const ctx: SealedUploadContext = { federationId: 'fed', roundId: '3-abc', clientId: 'c1', modelVersion: 2, numExamples: 10, uploadId: '0123456789abcdef', byteLength: 4096, chunkBytes: 1024 };

async function setup() {
  const coordSign = generateIdentityKeyPair(p);
  const coordSeal = deriveCoordinatorSealKey(coordSign);
  const client = generateBoxKeyPair(p);
  const kc = (await sealSharedKey(p, client, coordSeal.publicKey))!;
  const ks = (await sealSharedKey(p, coordSeal, client.publicKey))!;
  return { coordSign, coordSeal, client, kc, ks };
}

describe('sealed update chunks', () => {
  it('open under the exact context only: another federation, round, client, model version, upload or index fails as "context"', async () => {
    const { kc, ks } = await setup();
    const plain = p.randomBytes(1024);
    const sealed = sealChunk(p, kc, ctx, 1, plain);
    expect(sealed.length).toBe(1024 + 72);
    const ok = openChunk(ks, ctx, 1, sealed);
    expect(ok.ok && Buffer.from(ok.plaintext).equals(Buffer.from(plain))).toBe(true);
    for (const other of [{ federationId: 'fed2' }, { roundId: '4-abc' }, { clientId: 'c2' }, { modelVersion: 3 }, { numExamples: 11 }, { uploadId: 'ffffffffffffffff' }]) {
      expect(openChunk(ks, { ...ctx, ...other }, 1, sealed)).toEqual({ ok: false, reason: 'context' });
    }
    expect(openChunk(ks, ctx, 2, sealed)).toEqual({ ok: false, reason: 'context' });
    const flipped = sealed.slice();
    flipped[50]! ^= 1;
    expect(openChunk(ks, ctx, 1, flipped)).toEqual({ ok: false, reason: 'decrypt' });
    const stranger = (await sealSharedKey(p, generateBoxKeyPair(p), generateBoxKeyPair(p).publicKey))!;
    expect(openChunk(stranger, ctx, 1, sealed)).toEqual({ ok: false, reason: 'decrypt' });
  });

  it('the coordinator key announcement and the client key record verify only for their federation and client id', async () => {
    const { coordSign, coordSeal, client } = await setup();
    // The sealing key is derived, stable for a signing key.
    expect(deriveCoordinatorSealKey(coordSign).publicKey).toEqual(coordSeal.publicKey);
    const ann = announceCoordinatorSealKey(coordSign, coordSeal, 'fed');
    const pkHex = Buffer.from(coordSign.publicKey).toString('hex');
    expect(await verifyCoordinatorSealKey(p, pkHex, 'fed', ann)).toEqual(coordSeal.publicKey);
    expect(await verifyCoordinatorSealKey(p, pkHex, 'other-fed', ann)).toBeUndefined();
    expect(await verifyCoordinatorSealKey(p, Buffer.from(generateIdentityKeyPair(p).publicKey).toString('hex'), 'fed', ann)).toBeUndefined();
    const id = generateIdentityKeyPair(p);
    const rec = await clientSealKeyRecord(p, id, client, 'fed', 'c1');
    expect(rec.length).toBe(128);
    expect((await checkClientSealKeyRecord(p, rec, 'fed', 'c1')).ok).toBe(true);
    expect((await checkClientSealKeyRecord(p, rec, 'fed', 'c2')).ok).toBe(false);
    expect((await checkClientSealKeyRecord(p, rec, 'fed2', 'c1')).ok).toBe(false);
    expect((await checkClientSealKeyRecord(p, rec.subarray(0, 127), 'fed', 'c1')).ok).toBe(false);
  });
});
