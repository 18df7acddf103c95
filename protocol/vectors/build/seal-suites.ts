// The AES-256-GCM sealing suite's vectors (protocol/v1.md 5.4a, "Sealing suites").
import { createCipheriv, hkdfSync } from 'node:crypto';
import nacl from 'tweetnacl';
import {
  SEAL_SUITE_AEAD,
  SEAL_SUITE_LEGACY,
  aeadChunkAad,
  aeadInfo,
  aeadNonce,
  aeadSalt,
  announceCoordinatorSealKey,
  announceSealSuites,
  coordinatorSuitesMessage,
  deriveCoordinatorSealKey,
  deriveUploadKey,
  lengthPrefixed,
  sealChunkAead,
  sealedChunkContext,
  sha256,
  type SealedUploadContext,
} from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { webPlatform } from '@flock/privacy';
import { hex } from '../fixed-random.js';
import { CLIENT_BOX_SECRET, CLIENT_ID, COORDINATOR_SEED, FEDERATION_ID } from './auth-seal.js';

export async function sealedChunkAead(): Promise<Record<string, unknown>> {
  const coord = nacl.sign.keyPair.fromSeed(COORDINATOR_SEED);
  const seal = deriveCoordinatorSealKey(coord);
  const box = nacl.box.keyPair.fromSecretKey(CLIENT_BOX_SECRET);
  const suites = [SEAL_SUITE_AEAD, SEAL_SUITE_LEGACY] as const;
  const announced = announceSealSuites(coord, FEDERATION_ID, seal.publicKey, [...suites]);
  const suitesMessage = coordinatorSuitesMessage(FEDERATION_ID, seal.publicKey, suites);
  const ctx: SealedUploadContext = {
    federationId: FEDERATION_ID,
    roundId: '3-a1b2c3d4e5f6',
    clientId: CLIENT_ID,
    modelVersion: 2,
    numExamples: 600,
    uploadId: '00112233445566778899aabbccddeeff',
    byteLength: 1032,
    chunkBytes: 1024,
  };
  const shared = nacl.scalarMult(CLIENT_BOX_SECRET, seal.publicKey);
  const keys = { clientBoxKey: box.publicKey, sealPublicKey: seal.publicKey };
  const salt = aeadSalt(box.publicKey, seal.publicKey);
  const info = aeadInfo(ctx);
  if (hex(salt) !== hex(sha256(lengthPrefixed('flock/sealed-update-salt/v1', SEAL_SUITE_AEAD, box.publicKey, seal.publicKey)))) throw new Error('salt differs from the documented SHA-256');
  const key = (await deriveUploadKey(nodePlatform, CLIENT_BOX_SECRET, box.publicKey, seal.publicKey, keys, ctx))!;
  const keyOther = (await deriveUploadKey(webPlatform, seal.secretKey, seal.publicKey, box.publicKey, keys, ctx))!;
  // Independent: node:crypto HKDF, both ends through both adapters.
  if (hex(key) !== hex(new Uint8Array(hkdfSync('sha256', shared, salt, info, 32))) || hex(keyOther) !== hex(key)) throw new Error('upload key differs from RFC 5869 HKDF-SHA256');
  const update = Float32Array.from({ length: 258 }, (_, i) => (i - 129) / 64);
  const plain = new Uint8Array(update.buffer);
  const chunks = [];
  for (const index of [0, 1]) {
    const plaintext = plain.subarray(index * ctx.chunkBytes, Math.min(ctx.byteLength, (index + 1) * ctx.chunkBytes));
    const nonce = aeadNonce(index);
    const aad = aeadChunkAad(ctx, index);
    const sealed = await sealChunkAead(webPlatform, key, ctx, index, plaintext);
    // Independent: OpenSSL AES-256-GCM.
    const c = createCipheriv('aes-256-gcm', key, nonce);
    c.setAAD(aad);
    const ref = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
    if (hex(ref) !== hex(sealed) || hex(aad) !== hex(sha256(sealedChunkContext(ctx, index)))) throw new Error('sealChunkAead differs from OpenSSL AES-256-GCM');
    chunks.push({ index, plaintext: hex(plaintext), aad: hex(aad), nonce: hex(nonce), sealed: hex(sealed), sealedBytes: sealed.length, tag: hex(sealed.subarray(sealed.length - 16)) });
  }
  return {
    about:
      'The x25519-hkdf-sha256-aes-256-gcm sealing suite (protocol/v1.md 5.4a). welcome.sealKey.suites is signed by coordinatorKey over LP("flock/coordinator-seal-suites/v1") | LP(federationId) | LP(sealPublic) | LP(u64be count) | LP(suite_1) | ... ; uploadKey = HKDF-SHA256(ikm = X25519(client box secret, sealPublic), salt = SHA-256(LP("flock/sealed-update-salt/v1") | LP(suite) | LP(boxKey) | LP(sealPublic)), info = LP("flock/sealed-update-key/v1") | LP(suite) | LP(federationId) | LP(roundId) | LP(clientId) | LP(modelVersion) | LP(numExamples) | LP(uploadId) | LP(byteLength) | LP(chunkBytes), 32 bytes); sealed_i = AES-256-GCM(uploadKey, nonce = 00000000 | u64be(i), aad = SHA-256(context_i), plaintext_i) = ciphertext | tag (16): plaintext length + 16 bytes. Same keys, upload and update as seal-keys.json and sealed-chunk.json.',
    source:
      'protocol/vectors/generate.ts (build/seal-suites.ts): announceSealSuites, aeadSalt, aeadInfo, deriveUploadKey (both ends, node:crypto and WebCrypto adapters), sealChunkAead (WebCrypto) of @flock/privacy; cross-checked against node:crypto hkdfSync and createCipheriv("aes-256-gcm").',
    suite: SEAL_SUITE_AEAD,
    federationId: FEDERATION_ID,
    coordinatorKey: hex(coord.publicKey),
    sealPublicKey: hex(seal.publicKey),
    clientBoxPublicKey: hex(box.publicKey),
    suitesMessage: hex(suitesMessage),
    welcomeSealKey: { ...announceCoordinatorSealKey(coord, seal, FEDERATION_ID), ...announced },
    x25519Shared: hex(shared),
    salt: hex(salt),
    info: hex(info),
    uploadKey: hex(key),
    upload: ctx,
    chunks,
    refused: [
      { about: 'chunk 0 opened as chunk 1 (another nonce and AAD): the tag fails', chunk: 0, openAs: { index: 1 }, reason: 'decrypt' },
      { about: 'chunk 0 opened in another round: another upload key and AAD', chunk: 0, openAs: { index: 0, roundId: '4-a1b2c3d4e5f6' }, reason: 'decrypt' },
      { about: 'chunk 1 opened with another upload id', chunk: 1, openAs: { index: 1, uploadId: '00112233445566778899aabbccddeefe' }, reason: 'decrypt' },
      { about: 'chunk 0 with its first ciphertext byte flipped', chunk: 0, flipByte: 0, openAs: { index: 0 }, reason: 'decrypt' },
      { about: 'chunk 0 with the last tag byte flipped', chunk: 0, flipByte: 1039, openAs: { index: 0 }, reason: 'decrypt' },
    ],
    editedSuiteLists: [
      { about: 'the AES suite removed (a downgrade): the signature does not verify', suites: [SEAL_SUITE_LEGACY] },
      { about: 'reordered', suites: [SEAL_SUITE_LEGACY, SEAL_SUITE_AEAD] },
    ],
  };
}
