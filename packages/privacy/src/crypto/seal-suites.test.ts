import { describe, expect, it } from 'vitest';
import { nodePlatform } from '../platform/node.js';
import { webPlatform } from '../platform/web.js';
import { generateBoxKeyPair } from './box.js';
import { toHex } from './bytes.js';
import { generateIdentityKeyPair } from './sign.js';
import { announceCoordinatorSealKey, deriveCoordinatorSealKey, openChunk, sealChunk, sealSharedKey, type SealedUploadContext } from './sealed-update.js';
import {
  SEAL_SUITE_AEAD,
  SEAL_SUITE_LEGACY,
  aeadNonce,
  announceSealSuites,
  chooseSealSuite,
  deriveUploadKey,
  openChunkAead,
  sealChunkAead,
  verifyCoordinatorSuites,
} from './seal-suites.js';

const ctx: SealedUploadContext = { federationId: 'fed', roundId: '3-abc', clientId: 'c1', modelVersion: 2, numExamples: 10, uploadId: '0123456789abcdef', byteLength: 2056, chunkBytes: 1024 };

async function keys(c: SealedUploadContext = ctx) {
  const p = nodePlatform;
  const coordSign = generateIdentityKeyPair(p);
  const coord = deriveCoordinatorSealKey(coordSign);
  const client = generateBoxKeyPair(p);
  const pub = { clientBoxKey: client.publicKey, sealPublicKey: coord.publicKey };
  const kc = (await deriveUploadKey(p, client.secretKey, client.publicKey, coord.publicKey, pub, c))!;
  const ks = (await deriveUploadKey(p, coord.secretKey, coord.publicKey, client.publicKey, pub, c))!;
  return { coordSign, coord, client, pub, kc, ks };
}

describe('x25519-hkdf-sha256-aes-256-gcm sealing suite', () => {
  it('both ends derive the same per-upload key; node:crypto and WebCrypto seal byte-identically and open each other', async () => {
    const { kc, ks } = await keys();
    expect(toHex(kc)).toBe(toHex(ks));
    const plain = nodePlatform.randomBytes(1024);
    const a = await sealChunkAead(nodePlatform, kc, ctx, 1, plain);
    const b = await sealChunkAead(webPlatform, kc, ctx, 1, plain);
    expect(a.length).toBe(1024 + 16);
    expect(toHex(a)).toBe(toHex(b));
    expect(toHex((await openChunkAead(webPlatform, ks, ctx, 1, a))!)).toBe(toHex(plain));
    expect(toHex((await openChunkAead(nodePlatform, ks, ctx, 1, b))!)).toBe(toHex(plain));
  });

  it('a tampered ciphertext byte, tag byte, a truncated or extended chunk does not open', async () => {
    const { kc, ks } = await keys();
    const plain = nodePlatform.randomBytes(1024);
    const sealed = await sealChunkAead(nodePlatform, kc, ctx, 0, plain);
    for (const at of [0, 511, 1023, 1024, 1039]) {
      for (const platform of [nodePlatform, webPlatform]) {
        const bad = sealed.slice();
        bad[at]! ^= 0x01;
        expect(await openChunkAead(platform, ks, ctx, 0, bad)).toBeUndefined();
      }
    }
    expect(await openChunkAead(nodePlatform, ks, ctx, 0, sealed.subarray(0, sealed.length - 1))).toBeUndefined();
    expect(await openChunkAead(nodePlatform, ks, ctx, 0, sealed.subarray(0, 15))).toBeUndefined();
    const longer = new Uint8Array(sealed.length + 1);
    longer.set(sealed);
    expect(await openChunkAead(nodePlatform, ks, ctx, 0, longer)).toBeUndefined();
  });

  it('a chunk opens only at its index and in its upload: another position, federation, round, client, model version, size or upload fails', async () => {
    const { kc, ks } = await keys();
    const sealed = await sealChunkAead(nodePlatform, kc, ctx, 1, nodePlatform.randomBytes(1024));
    expect(await openChunkAead(nodePlatform, ks, ctx, 1, sealed)).toBeDefined();
    expect(await openChunkAead(nodePlatform, ks, ctx, 0, sealed)).toBeUndefined();
    expect(await openChunkAead(nodePlatform, ks, ctx, 2, sealed)).toBeUndefined();
    for (const other of [{ federationId: 'fed2' }, { roundId: '4-abc' }, { clientId: 'c2' }, { modelVersion: 3 }, { numExamples: 11 }, { uploadId: 'ffffffffffffffff' }, { byteLength: 2060 }, { chunkBytes: 2048 }]) {
      // The receiver's AAD of another context (same upload key)...
      expect(await openChunkAead(nodePlatform, ks, { ...ctx, ...other }, 1, sealed)).toBeUndefined();
    }
  });

  it('the upload key is bound to every context field, the suite and both public keys: a key for one upload never opens another', async () => {
    const { coord, client, pub, kc } = await keys();
    for (const other of [{ federationId: 'fed2' }, { roundId: '4-abc' }, { clientId: 'c2' }, { modelVersion: 3 }, { numExamples: 11 }, { uploadId: 'ffffffffffffffff' }, { byteLength: 2060 }, { chunkBytes: 2048 }]) {
      const k = (await deriveUploadKey(nodePlatform, coord.secretKey, coord.publicKey, client.publicKey, pub, { ...ctx, ...other }))!;
      expect(toHex(k)).not.toBe(toHex(kc));
    }
    const swapped = (await deriveUploadKey(nodePlatform, coord.secretKey, coord.publicKey, client.publicKey, { clientBoxKey: pub.sealPublicKey, sealPublicKey: pub.clientBoxKey }, ctx))!;
    expect(toHex(swapped)).not.toBe(toHex(kc));
    // A low-order peer key gives an all-zero X25519 output: refused.
    expect(await deriveUploadKey(nodePlatform, coord.secretKey, coord.publicKey, new Uint8Array(32), pub, ctx)).toBeUndefined();
  });

  it('a chunk cannot be reinterpreted under the other suite (wrong suite: does not open either way)', async () => {
    const { coord, client, kc, ks } = await keys();
    const plain = nodePlatform.randomBytes(1024);
    const legacyShared = (await sealSharedKey(nodePlatform, client, coord.publicKey))!;
    const legacyOpen = (await sealSharedKey(nodePlatform, coord, client.publicKey))!;
    const aead = await sealChunkAead(nodePlatform, kc, ctx, 0, plain);
    const legacy = sealChunk(nodePlatform, legacyShared, ctx, 0, plain);
    // The AEAD chunk under the legacy opener (padded to the legacy length so only the crypto decides).
    const padded = new Uint8Array(legacy.length);
    padded.set(aead);
    expect(openChunk(legacyOpen, ctx, 0, padded).ok).toBe(false);
    expect(openChunk(ks, ctx, 0, padded).ok).toBe(false);
    // The legacy chunk under the AEAD opener, whole and cut to the AEAD length.
    expect(await openChunkAead(nodePlatform, ks, ctx, 0, legacy)).toBeUndefined();
    expect(await openChunkAead(nodePlatform, ks, ctx, 0, legacy.subarray(0, aead.length))).toBeUndefined();
    expect(await openChunkAead(nodePlatform, legacyOpen, ctx, 0, aead)).toBeUndefined();
    // The legacy suite still opens its own chunks.
    expect(openChunk(legacyOpen, ctx, 0, legacy).ok).toBe(true);
  });

  it('nonces are 0^32 | u64be(index): distinct for every index of an upload', () => {
    expect(toHex(aeadNonce(0))).toBe('000000000000000000000000');
    expect(toHex(aeadNonce(1))).toBe('000000000000000000000001');
    expect(toHex(aeadNonce(2 ** 32 + 5))).toBe('000000000000000100000005');
    expect(() => aeadNonce(-1)).toThrow(RangeError);
    expect(() => aeadNonce(1.5)).toThrow(RangeError);
  });
});

describe('suite negotiation', () => {
  it('the signed suite list verifies only unedited: removing, reordering or adding a suite, or another federation or seal key, fails (downgrade)', async () => {
    const coordSign = generateIdentityKeyPair(nodePlatform);
    const coord = deriveCoordinatorSealKey(coordSign);
    const signer = toHex(coordSign.publicKey);
    const ann = announceSealSuites(coordSign, 'fed', coord.publicKey, [SEAL_SUITE_AEAD, SEAL_SUITE_LEGACY]);
    expect(await verifyCoordinatorSuites(nodePlatform, signer, 'fed', coord.publicKey, ann.suites, ann.suitesSignature)).toBe(true);
    expect(await verifyCoordinatorSuites(webPlatform, signer, 'fed', coord.publicKey, ann.suites, ann.suitesSignature)).toBe(true);
    for (const edited of [[SEAL_SUITE_LEGACY], [SEAL_SUITE_LEGACY, SEAL_SUITE_AEAD], [SEAL_SUITE_AEAD], [SEAL_SUITE_AEAD, SEAL_SUITE_LEGACY, 'x']]) {
      expect(await verifyCoordinatorSuites(nodePlatform, signer, 'fed', coord.publicKey, edited, ann.suitesSignature)).toBe(false);
    }
    expect(await verifyCoordinatorSuites(nodePlatform, signer, 'fed2', coord.publicKey, ann.suites, ann.suitesSignature)).toBe(false);
    expect(await verifyCoordinatorSuites(nodePlatform, signer, 'fed', generateBoxKeyPair(nodePlatform).publicKey, ann.suites, ann.suitesSignature)).toBe(false);
    // The legacy seal-key signature is not a suite-list signature (distinct domains).
    const legacyAnn = announceCoordinatorSealKey(coordSign, coord, 'fed');
    expect(await verifyCoordinatorSuites(nodePlatform, signer, 'fed', coord.publicKey, ann.suites, legacyAnn.signature)).toBe(false);
    expect(() => announceSealSuites(coordSign, 'fed', coord.publicKey, [])).toThrow(RangeError);
    expect(() => announceSealSuites(coordSign, 'fed', coord.publicKey, [SEAL_SUITE_AEAD, SEAL_SUITE_AEAD])).toThrow(RangeError);
  });

  it('the client picks its most preferred suite the coordinator offers; none in common is undefined', () => {
    expect(chooseSealSuite([SEAL_SUITE_LEGACY, SEAL_SUITE_AEAD])).toBe(SEAL_SUITE_AEAD);
    expect(chooseSealSuite(['future-suite', SEAL_SUITE_LEGACY])).toBe(SEAL_SUITE_LEGACY);
    expect(chooseSealSuite([SEAL_SUITE_AEAD], [SEAL_SUITE_LEGACY])).toBeUndefined();
    expect(chooseSealSuite(['future-suite'])).toBeUndefined();
  });
});
