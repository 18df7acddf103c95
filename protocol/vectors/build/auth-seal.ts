/**
 * Vectors of protocol/v1.md 3.2 (handshake signature) and 5.4a (coordinator seal key, client key
 * record, sealed chunks).
 */
import nacl from 'tweetnacl';
import { authSignedMessage, PROTOCOL_VERSION } from '@flock/protocol';
import {
  announceCoordinatorSealKey,
  clientSealKeyMessage,
  clientSealKeyRecord,
  coordinatorSealKeyMessage,
  deriveCoordinatorSealKey,
  lengthPrefixed,
  sealChunk,
  sealSharedKey,
  sealedChunkContext,
  sha256,
  signDetached,
  type SealedUploadContext,
} from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { hex, labelled, scriptedPlatform } from '../fixed-random.js';

export const COORDINATOR_SEED = labelled('flock/vectors/coordinator-ed25519-seed', 32);
export const CLIENT_IDENTITY_SEED = labelled('flock/vectors/client-ed25519-seed', 32);
export const CLIENT_BOX_SECRET = labelled('flock/vectors/client-x25519-secret', 32);
export const FEDERATION_ID = 'fed-vectors-α';
export const CLIENT_ID = 'client-7';

export async function handshake(): Promise<Record<string, unknown>> {
  const id = nacl.sign.keyPair.fromSeed(CLIENT_IDENTITY_SEED);
  const nonce = 'q4Cp0nBcsP0uK0mvZb1kSg';
  const message = authSignedMessage(FEDERATION_ID, CLIENT_ID, nonce);
  const signature = await signDetached(nodePlatform, id.secretKey, message);
  if (hex(signature) !== hex(nacl.sign.detached(message, id.secretKey))) throw new Error('native and tweetnacl Ed25519 differ');
  return {
    about:
      "Handshake signature (protocol/v1.md 3.2): Ed25519 (RFC 8032, deterministic) by the client's identity key over lp(\"flock-auth-v1\") | lp(federationId) | lp(clientId) | lp(nonce), lp(s) = u32be(byteLength(UTF-8 s)) | UTF-8 s.",
    source:
      'protocol/vectors/generate.ts (build/auth-seal.ts): authSignedMessage of @flock/protocol, signDetached of @flock/privacy (node:crypto Ed25519), cross-checked against tweetnacl nacl.sign.detached. The identity seed is SHA-256("flock/vectors/client-ed25519-seed" | u32be(0)).',
    identitySeed: hex(CLIENT_IDENTITY_SEED),
    publicKey: hex(id.publicKey),
    federationId: FEDERATION_ID,
    federationIdUtf8: hex(new TextEncoder().encode(FEDERATION_ID)),
    clientId: CLIENT_ID,
    nonce,
    signedMessage: hex(message),
    signature: hex(signature),
    auth: { protocolVersion: PROTOCOL_VERSION, clientId: CLIENT_ID, publicKey: hex(id.publicKey), nonce, signature: hex(signature) },
    refused: [
      { about: 'publicKey in uppercase hex: a schema error (3.1, 3.3 step 2)', patch: { publicKey: hex(id.publicKey).toUpperCase() }, error: 'BAD_MESSAGE', path: 'publicKey' },
      { about: 'signature of 127 hex characters', patch: { signature: hex(signature).slice(1) }, error: 'BAD_MESSAGE', path: 'signature' },
      { about: 'clientId with a space', patch: { clientId: 'client 7' }, error: 'BAD_MESSAGE', path: 'clientId' },
      { about: 'protocolVersion as a string', patch: { protocolVersion: '1' }, error: 'BAD_MESSAGE', path: 'protocolVersion' },
    ],
  };
}

export async function sealKeys(): Promise<Record<string, unknown>> {
  const coord = nacl.sign.keyPair.fromSeed(COORDINATOR_SEED);
  const derivationInput = lengthPrefixed('flock/coordinator-seal-key-derivation/v1', COORDINATOR_SEED);
  const seal = deriveCoordinatorSealKey(coord);
  if (hex(seal.secretKey) !== hex(sha256(derivationInput))) throw new Error('seal key derivation differs from the documented SHA-256');
  if (hex(seal.publicKey) !== hex(nacl.scalarMult.base(seal.secretKey))) throw new Error('seal public key is not X25519(sk, 9)');
  const announcement = announceCoordinatorSealKey(coord, seal, FEDERATION_ID);
  const client = nacl.sign.keyPair.fromSeed(CLIENT_IDENTITY_SEED);
  const box = nacl.box.keyPair.fromSecretKey(CLIENT_BOX_SECRET);
  const recordMessage = clientSealKeyMessage(FEDERATION_ID, CLIENT_ID, box.publicKey);
  const record = await clientSealKeyRecord(nodePlatform, client, box, FEDERATION_ID, CLIENT_ID);
  return {
    about:
      "Coordinator seal key and client key record (protocol/v1.md 5.4a). The seal key's X25519 secret is SHA-256(LP(domain) | LP(Ed25519 seed)); its public key is X25519(secret, 9) (the secret is clamped by X25519 as usual). Public keys are signed as their raw 32 bytes, never as hex text.",
    source:
      'protocol/vectors/generate.ts (build/auth-seal.ts): deriveCoordinatorSealKey, announceCoordinatorSealKey, clientSealKeyRecord of @flock/privacy; the derivation is cross-checked against sha256(lengthPrefixed(...)) and the public key against tweetnacl scalarMult.base. Seeds: SHA-256(label | u32be(0)) for the labels flock/vectors/coordinator-ed25519-seed, flock/vectors/client-ed25519-seed, flock/vectors/client-x25519-secret.',
    federationId: FEDERATION_ID,
    clientId: CLIENT_ID,
    coordinator: {
      ed25519Seed: hex(COORDINATOR_SEED),
      coordinatorKey: hex(coord.publicKey),
      derivationInput: hex(derivationInput),
      sealSecretKey: hex(seal.secretKey),
      sealPublicKey: hex(seal.publicKey),
      announcementMessage: hex(coordinatorSealKeyMessage(FEDERATION_ID, seal.publicKey)),
      welcomeSealKey: announcement,
    },
    client: {
      identitySeed: hex(CLIENT_IDENTITY_SEED),
      identityKey: hex(client.publicKey),
      boxSecretKey: hex(CLIENT_BOX_SECRET),
      boxPublicKey: hex(box.publicKey),
      recordMessage: hex(recordMessage),
      keyRecord: hex(record),
    },
  };
}

export async function sealedChunk(): Promise<Record<string, unknown>> {
  const coord = nacl.sign.keyPair.fromSeed(COORDINATOR_SEED);
  const seal = deriveCoordinatorSealKey(coord);
  const box = nacl.box.keyPair.fromSecretKey(CLIENT_BOX_SECRET);
  const shared = nacl.scalarMult(CLIENT_BOX_SECRET, seal.publicKey);
  const key = (await sealSharedKey(nodePlatform, { publicKey: box.publicKey, secretKey: CLIENT_BOX_SECRET }, seal.publicKey))!;
  if (hex(key) !== hex(nacl.box.before(seal.publicKey, CLIENT_BOX_SECRET))) throw new Error('sealSharedKey differs from crypto_box_beforenm');
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
  const update = Float32Array.from({ length: 258 }, (_, i) => (i - 129) / 64);
  const plain = new Uint8Array(update.buffer);
  const chunks = [];
  for (const index of [0, 1]) {
    const plaintext = plain.subarray(index * ctx.chunkBytes, Math.min(ctx.byteLength, (index + 1) * ctx.chunkBytes));
    const nonce = labelled(`flock/vectors/chunk-nonce/${index}`, 24);
    const context = sealedChunkContext(ctx, index);
    const sealed = sealChunk(scriptedPlatform([nonce]), key, ctx, index, plaintext);
    // Independent: nacl.box with the full key pair, and crypto_secretbox with the precomputed key.
    const body = new Uint8Array([...sha256(context), ...plaintext]);
    if (hex(nacl.box(body, nonce, seal.publicKey, CLIENT_BOX_SECRET)) !== hex(sealed.subarray(24))) throw new Error('sealChunk differs from nacl.box');
    if (hex(nacl.secretbox(body, nonce, key)) !== hex(sealed.subarray(24))) throw new Error('sealChunk differs from crypto_secretbox');
    chunks.push({
      index,
      plaintext: hex(plaintext),
      context: hex(context),
      contextHash: hex(sha256(context)),
      nonce: hex(nonce),
      sealed: hex(sealed),
      sealedBytes: sealed.length,
      tag: hex(sealed.subarray(24, 40)),
    });
  }
  return {
    about:
      'Sealed chunks (protocol/v1.md 5.4a). key = crypto_box_beforenm(coordinator seal public key, client box secret key) = HSalsa20(X25519 output, 16 zero bytes, "expand 32-byte k"); sealed_i = nonce (24) | crypto_secretbox(SHA-256(context_i) | plaintext_i, nonce, key), and crypto_secretbox output is the Poly1305 tag (16) followed by the XSalsa20 ciphertext: plaintext length + 72 bytes in all. The update is 258 float32 values (i - 129) / 64, sent in chunks of 1024 bytes: chunk 1 has 8 bytes.',
    source:
      'protocol/vectors/generate.ts (build/auth-seal.ts): sealSharedKey, sealedChunkContext and sealChunk of @flock/privacy with the nonce drawn from a scripted platform; cross-checked against tweetnacl nacl.box (full key pair) and nacl.secretbox (precomputed key). Nonces: first 24 bytes of SHA-256("flock/vectors/chunk-nonce/<index>" | u32be(0)). Keys as in seal-keys.json.',
    coordinatorSealSecretKey: hex(seal.secretKey),
    coordinatorSealPublicKey: hex(seal.publicKey),
    clientBoxSecretKey: hex(CLIENT_BOX_SECRET),
    clientBoxPublicKey: hex(box.publicKey),
    x25519Shared: hex(shared),
    boxKey: hex(key),
    upload: ctx,
    chunks,
    refused: [
      { about: 'chunk 0 opened as chunk 1: genuine, but bound to another position', chunk: 0, openAs: { index: 1 }, reason: 'context' },
      { about: 'chunk 0 opened in another round', chunk: 0, openAs: { index: 0, roundId: '4-a1b2c3d4e5f6' }, reason: 'context' },
      { about: 'chunk 1 opened with another upload id', chunk: 1, openAs: { index: 1, uploadId: '00112233445566778899aabbccddeefe' }, reason: 'context' },
      { about: 'chunk 0 with byte 40 (first ciphertext byte) flipped', chunk: 0, flipByte: 40, openAs: { index: 0 }, reason: 'decrypt' },
    ],
  };
}
