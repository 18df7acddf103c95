/**
 * Conformance vectors (protocol/vectors/*.json, protocol/v1.md 15; secagg-round.json in
 * conformance-secagg-round.test.ts): the implementation must
 * reproduce every output byte for byte, and accept or refuse what each vector says. The
 * vectors are committed; this test never regenerates them (protocol/vectors/generate.ts does,
 * by hand), so a code change that changes the wire fails here.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import nacl from 'tweetnacl';
import { combine } from 'shamir-secret-sharing';
import { Decoder, Encoder, PacketType } from 'socket.io-parser';
import { describe, expect, it } from 'vitest';
import {
  FlockError,
  ackSchema,
  authSignedMessage,
  canonicalSpec,
  declineSchema,
  decodeFloat32,
  encodeFloat32,
  evaluateReportSchema,
  firstNonFinite,
  handshakeAuthSchema,
  hashModel,
  hashModelAsync,
  roundEndSchema,
  federationDoneSchema,
  roundStartSchema,
  specSize,
  updateMetaSchema,
  uploadBeginSchema,
  uploadChunkSchema,
  welcomeSchema,
  type ModelSpec,
} from '@flock/protocol';
import {
  Quantizer,
  WeightedEncoder,
  DpQuantizer,
  planDpQuantization,
  announceCoordinatorSealKey,
  buildNeighbourGraph,
  canonicalReceiptBytes,
  checkClientSealKeyRecord,
  clientSealKeyRecord,
  deriveCoordinatorSealKey,
  expandMask,
  graphSeed,
  openChunk,
  pairwiseSeed,
  sealChunk,
  sealSharedKey,
  sealedChunkContext,
  selfSeedCommitment,
  sha256,
  signDetached,
  signReceipt,
  verifyCoordinatorSealKey,
  verifyDetached,
  verifyReceipt,
  aeadInfo,
  aeadSalt,
  coordinatorSuitesMessage,
  deriveUploadKey,
  openChunkAead,
  sealChunkAead,
  verifyCoordinatorSuites,
  type PrivacyReceipt,
  type SealedUploadContext,
} from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { webPlatform } from '@flock/privacy';
import { checkReceipt } from '@flock/client';
import { hex, scriptedPlatform, shamirDraws, unhex, withNodeRandom } from '../protocol/vectors/fixed-random.js';
import { combineSharesFast, shareSecret } from '../packages/privacy/src/secagg/shamir.js';

import { FILES, fromWire, vector, vectorDir, type Json } from './conformance-helpers.js';

function f32FromBits(bits: string[]): Float32Array {
  const buf = Buffer.from(bits.join(''), 'hex');
  return Float32Array.from(bits, (_, i) => buf.readFloatBE(4 * i));
}

describe('conformance vectors: the set', () => {
  it('every vector file is exercised below, and each names how it was produced', () => {
    const present = readdirSync(vectorDir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
    expect(present).toEqual([...FILES].sort());
    for (const f of FILES) {
      const v = vector(f);
      expect(v.vector).toBe(f);
      expect(typeof v.about).toBe('string');
      expect(v.source).toMatch(/protocol\/vectors\/generate\.ts/);
    }
  });
});

describe('conformance vectors: tensor codec and model hash (v1.md 6)', () => {
  it('tensor-codec: encodes float32 little-endian byte for byte, decodes (also unaligned), finds the first non-finite value, refuses a wrong length', () => {
    const v = vector('tensor-codec');
    const values = f32FromBits(v.encode.float32Bits);
    expect(hex(encodeFloat32(values))).toBe(v.encode.bytes);
    const bytes = unhex(v.encode.bytes);
    const unaligned = new Uint8Array(bytes.length + 1);
    unaligned.set(bytes, 1);
    for (const b of [bytes, unaligned.subarray(1)]) {
      const decoded = decodeFloat32(b, values.length);
      expect(Array.from(decoded, (x) => Buffer.from(new Float32Array([x]).buffer).reverse().toString('hex'))).toEqual(v.encode.float32Bits);
    }
    expect(firstNonFinite(decodeFloat32(unhex(v.nonFinite.bytes), 4))).toBe(v.nonFinite.firstNonFinite);
    let err: unknown;
    try {
      decodeFloat32(unhex(v.wrongLength.bytes), v.wrongLength.numParams);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FlockError);
    expect((err as FlockError).code).toBe(v.wrongLength.error.code);
    expect((err as FlockError).details).toEqual(v.wrongLength.error.details);
  });

  it('model-hash: canonical spec text, parameter count and hash of every case (sync and WebCrypto)', async () => {
    for (const c of vector('model-hash').cases) {
      const spec = c.spec as ModelSpec;
      expect(canonicalSpec(spec), c.name).toBe(c.canonicalSpec);
      expect(Buffer.byteLength(c.canonicalSpec, 'utf8')).toBe(c.canonicalSpecBytes);
      expect(specSize(spec)).toBe(c.numParams);
      const weights = decodeFloat32(unhex(c.weightBytes), c.numParams);
      expect(Array.from(weights)).toEqual(c.weights);
      expect(hashModel(spec, weights), c.name).toBe(c.modelHash);
      expect(await hashModelAsync(spec, weights)).toBe(c.modelHash);
      expect(createHash('sha256').update(unhex(c.hashInputPrefix)).update(unhex(c.weightBytes)).digest('hex')).toBe(c.modelHash);
    }
  });
});

describe('conformance vectors: handshake and sealing (v1.md 3.2, 5.4a)', () => {
  it('handshake: the signed message and the Ed25519 signature; the auth object parses; malformed fields are schema errors', async () => {
    const v = vector('handshake');
    const id = nacl.sign.keyPair.fromSeed(unhex(v.identitySeed));
    expect(hex(id.publicKey)).toBe(v.publicKey);
    const message = authSignedMessage(v.federationId, v.clientId, v.nonce);
    expect(hex(message)).toBe(v.signedMessage);
    expect(hex(await signDetached(nodePlatform, id.secretKey, message))).toBe(v.signature);
    expect(hex(await signDetached(webPlatform, id.secretKey, message))).toBe(v.signature);
    expect(await verifyDetached(nodePlatform, id.publicKey, message, unhex(v.signature))).toBe(true);
    expect(handshakeAuthSchema.safeParse(v.auth).success).toBe(true);
    for (const r of v.refused) {
      const parsed = handshakeAuthSchema.safeParse({ ...v.auth, ...r.patch });
      expect(parsed.success, r.about).toBe(false);
      expect(parsed.error!.issues.map((i) => i.path.join('.')), r.about).toContain(r.path);
    }
  });

  it('seal-keys: coordinator seal key derivation and announcement, client key record; both verify only for their federation and client', async () => {
    const v = vector('seal-keys');
    const coord = nacl.sign.keyPair.fromSeed(unhex(v.coordinator.ed25519Seed));
    expect(hex(coord.publicKey)).toBe(v.coordinator.coordinatorKey);
    const seal = deriveCoordinatorSealKey(coord);
    expect(hex(seal.secretKey)).toBe(v.coordinator.sealSecretKey);
    expect(hex(seal.publicKey)).toBe(v.coordinator.sealPublicKey);
    expect(announceCoordinatorSealKey(coord, seal, v.federationId)).toEqual(v.coordinator.welcomeSealKey);
    expect(hex((await verifyCoordinatorSealKey(nodePlatform, v.coordinator.coordinatorKey, v.federationId, v.coordinator.welcomeSealKey))!)).toBe(v.coordinator.sealPublicKey);
    expect(await verifyCoordinatorSealKey(nodePlatform, v.coordinator.coordinatorKey, `${v.federationId}x`, v.coordinator.welcomeSealKey)).toBeUndefined();
    const client = nacl.sign.keyPair.fromSeed(unhex(v.client.identitySeed));
    const box = nacl.box.keyPair.fromSecretKey(unhex(v.client.boxSecretKey));
    expect(hex(box.publicKey)).toBe(v.client.boxPublicKey);
    const record = await clientSealKeyRecord(nodePlatform, client, box, v.federationId, v.clientId);
    expect(hex(record)).toBe(v.client.keyRecord);
    expect(hex(record.subarray(0, 32))).toBe(v.client.identityKey);
    expect(nacl.sign.detached.verify(unhex(v.client.recordMessage), record.subarray(64), client.publicKey)).toBe(true);
    const ok = await checkClientSealKeyRecord(nodePlatform, unhex(v.client.keyRecord), v.federationId, v.clientId);
    expect(ok.ok && hex(ok.boxKey)).toBe(v.client.boxPublicKey);
    expect((await checkClientSealKeyRecord(nodePlatform, unhex(v.client.keyRecord), v.federationId, 'client-8')).ok).toBe(false);
  });

  it('sealed-chunk: shared key both ways, context bytes, sealed chunks byte for byte; opens; replays and tampering fail as the vector says', async () => {
    const v = vector('sealed-chunk');
    const coordinator = { secretKey: unhex(v.coordinatorSealSecretKey), publicKey: unhex(v.coordinatorSealPublicKey) };
    const client = { secretKey: unhex(v.clientBoxSecretKey), publicKey: unhex(v.clientBoxPublicKey) };
    expect(hex(nacl.scalarMult(client.secretKey, coordinator.publicKey))).toBe(v.x25519Shared);
    const kc = (await sealSharedKey(nodePlatform, client, coordinator.publicKey))!;
    const ks = (await sealSharedKey(nodePlatform, coordinator, client.publicKey))!;
    expect(hex(kc)).toBe(v.boxKey);
    expect(hex(ks)).toBe(v.boxKey);
    const ctx = v.upload as SealedUploadContext;
    for (const c of v.chunks) {
      expect(hex(sealedChunkContext(ctx, c.index))).toBe(c.context);
      const sealed = sealChunk(scriptedPlatform([unhex(c.nonce)]), kc, ctx, c.index, unhex(c.plaintext));
      expect(hex(sealed)).toBe(c.sealed);
      expect(sealed.length).toBe(unhex(c.plaintext).length + 72);
      const opened = openChunk(ks, ctx, c.index, unhex(c.sealed));
      expect(opened.ok && hex(opened.plaintext)).toBe(c.plaintext);
    }
    for (const r of v.refused) {
      const sealed = unhex(v.chunks[r.chunk].sealed);
      if (r.flipByte !== undefined) sealed[r.flipByte] = sealed[r.flipByte]! ^ 1;
      const { index, ...other } = r.openAs;
      expect(openChunk(ks, { ...ctx, ...other }, index, sealed), r.about).toEqual({ ok: false, reason: r.reason });
    }
  });

  it('sealed-chunk-aead: signed suite list, HKDF salt/info, upload key both ends, AES-256-GCM chunks byte for byte on both adapters; replays and tampering fail; an edited suite list does not verify', async () => {
    const v = vector('sealed-chunk-aead');
    const keys = vector('seal-keys');
    const coordinator = { secretKey: unhex(keys.coordinator.sealSecretKey), publicKey: unhex(v.sealPublicKey) };
    const client = { secretKey: unhex(keys.client.boxSecretKey), publicKey: unhex(v.clientBoxPublicKey) };
    const pub = { clientBoxKey: client.publicKey, sealPublicKey: coordinator.publicKey };
    expect(hex(coordinatorSuitesMessage(v.federationId, coordinator.publicKey, v.welcomeSealKey.suites))).toBe(v.suitesMessage);
    expect(await verifyCoordinatorSuites(nodePlatform, v.coordinatorKey, v.federationId, coordinator.publicKey, v.welcomeSealKey.suites, v.welcomeSealKey.suitesSignature)).toBe(true);
    expect(await verifyCoordinatorSealKey(nodePlatform, v.coordinatorKey, v.federationId, v.welcomeSealKey)).toEqual(coordinator.publicKey);
    for (const e of v.editedSuiteLists) expect(await verifyCoordinatorSuites(webPlatform, v.coordinatorKey, v.federationId, coordinator.publicKey, e.suites, v.welcomeSealKey.suitesSignature), e.about).toBe(false);
    const ctx = v.upload as SealedUploadContext;
    expect(hex(aeadSalt(client.publicKey, coordinator.publicKey))).toBe(v.salt);
    expect(hex(aeadInfo(ctx))).toBe(v.info);
    for (const platform of [nodePlatform, webPlatform]) {
      expect(hex((await deriveUploadKey(platform, client.secretKey, client.publicKey, coordinator.publicKey, pub, ctx))!)).toBe(v.uploadKey);
      expect(hex((await deriveUploadKey(platform, coordinator.secretKey, coordinator.publicKey, client.publicKey, pub, ctx))!)).toBe(v.uploadKey);
    }
    const key = unhex(v.uploadKey);
    for (const c of v.chunks) {
      for (const platform of [nodePlatform, webPlatform]) {
        const sealed = await sealChunkAead(platform, key, ctx, c.index, unhex(c.plaintext));
        expect(hex(sealed)).toBe(c.sealed);
        expect(sealed.length).toBe(unhex(c.plaintext).length + 16);
        expect(hex((await openChunkAead(platform, key, ctx, c.index, unhex(c.sealed)))!)).toBe(c.plaintext);
      }
    }
    for (const r of v.refused) {
      const sealed = unhex(v.chunks[r.chunk].sealed);
      if (r.flipByte !== undefined) sealed[r.flipByte] = sealed[r.flipByte]! ^ 1;
      const { index, ...other } = r.openAs;
      const octx = { ...ctx, ...other };
      // The receiver derives the upload key from its own view of the upload, then opens.
      const k = (await deriveUploadKey(nodePlatform, coordinator.secretKey, coordinator.publicKey, client.publicKey, pub, octx))!;
      expect(await openChunkAead(nodePlatform, k, octx, index, sealed), r.about).toBeUndefined();
    }
  });

  it('receipts: canonical signed bytes and signatures; round:end receipts verify (SDK check too); any change breaks them; a receipt for another round:end is a mismatch', () => {
    const v = vector('receipts');
    const coord = nacl.sign.keyPair.fromSeed(unhex(vector('seal-keys').coordinator.ed25519Seed));
    expect(hex(coord.publicKey)).toBe(v.coordinatorKey);
    for (const c of v.cases) {
      expect(hex(canonicalReceiptBytes(c.receipt as PrivacyReceipt)), c.name).toBe(c.signedBytes);
      expect(Buffer.from(c.signedBytes, 'hex').toString('utf8')).toBe(c.signedText);
      expect(signReceipt(c.receipt as PrivacyReceipt, coord.secretKey).signature).toBe(c.signature);
      expect(verifyReceipt(c.roundEnd, coord.publicKey)).toBe(true);
      const { federationId, roundId, round, modelVersion, modelHash } = c.receipt;
      expect(checkReceipt(c.roundEnd, v.coordinatorKey, { federationId, roundId, round, modelVersion, modelHash })).toEqual(c.receipt);
    }
    for (const m of v.mismatch) {
      const c = v.cases[m.case];
      const { federationId, roundId, round, modelVersion, modelHash } = c.receipt;
      expect(() => checkReceipt(c.roundEnd, v.coordinatorKey, { federationId, roundId, round, modelVersion, modelHash, ...m.expected }), m.about).toThrow(
        expect.objectContaining({ code: 'RECEIPT_MISMATCH', details: expect.objectContaining({ field: m.field }) }),
      );
    }
    for (const r of v.refused) {
      const c = v.cases[r.case];
      const tampered = { receipt: { ...c.roundEnd.receipt, ...r.patch }, signature: c.roundEnd.signature };
      expect(verifyReceipt(tampered, coord.publicKey), r.about).toBe(false);
      expect(() => checkReceipt(tampered, v.coordinatorKey), r.about).toThrow(expect.objectContaining({ code: 'RECEIPT_INVALID' }));
    }
  });
});

describe('conformance vectors: SecAgg constructions (secagg.md)', () => {
  it('secagg-kdf: pairwise mask seed (both argument orders) and self-seed commitment', () => {
    const v = vector('secagg-kdf');
    const p = v.pairwise;
    expect(hex(nacl.scalarMult(unhex(p.maskSecretKeyA), unhex(p.maskPublicKeyB)))).toBe(p.x25519);
    expect(hex(pairwiseSeed(v.session, v.round, unhex(p.maskPublicKeyA), unhex(p.maskPublicKeyB), unhex(p.x25519)))).toBe(p.seed);
    expect(hex(pairwiseSeed(v.session, v.round, unhex(p.maskPublicKeyB), unhex(p.maskPublicKeyA), unhex(p.x25519)))).toBe(p.seed);
    expect(hex(sha256(unhex(p.input)))).toBe(p.seed);
    expect(hex(sha256(unhex(v.commitment.input)))).toBe(v.commitment.commitment);
    const c = v.commitment;
    expect(hex(selfSeedCommitment(v.session, v.round, c.clientId, unhex(c.selfSeed)))).toBe(c.commitment);
  });

  it('secagg-prg: AES-256-CTR keystream words from counter block 0, and far into the stream', async () => {
    const v = vector('secagg-prg');
    const seed = unhex(v.seed);
    for (const p of [nodePlatform, webPlatform]) {
      expect(Array.from(await expandMask(p, seed, v.m))).toEqual(v.words);
      const ks = await p.aes256Ctr(seed, new Uint8Array(16), 48);
      expect(hex(ks)).toBe(v.blocks.map((b: Json) => b.keystream).join(''));
      const far = await p.aes256Ctr(seed, unhex(v.far.counter), 16);
      expect(Array.from({ length: 4 }, (_, i) => Buffer.from(far).readUInt32LE(4 * i))).toEqual(v.far.words);
    }
  });

  it('secagg-graph: graph seed and every neighbour list', () => {
    const v = vector('secagg-graph');
    for (const c of v.cases) {
      const seed = graphSeed(v.session, v.round, c.sortedIds);
      expect(hex(seed)).toBe(c.seed);
      const g = buildNeighbourGraph(c.ids, c.k, seed);
      expect(g.ids).toEqual(c.sortedIds);
      expect(g.full).toBe(c.full);
      expect(g.degree).toBe(c.degree);
      expect(Object.fromEntries(g.neighbours)).toEqual(c.neighbours);
    }
  });

  it('shamir: the split with fixed randomness gives the shares byte for byte; any t of them combine (library and fast path)', async () => {
    const v = vector('shamir');
    for (const c of v.cases) {
      const secret = unhex(c.secret);
      const shares = await withNodeRandom(shamirDraws(unhex(c.coordinateBytes), unhex(c.coefficientBytes), secret.length, c.t), () => shareSecret(secret, c.k, c.t));
      expect(shares.map(hex), c.name).toEqual(c.shares);
      expect(shares.map((s) => s[s.length - 1])).toEqual(c.xCoordinates);
      expect(new Set(c.xCoordinates).size).toBe(c.k); // distinct
      expect(c.xCoordinates).not.toContain(0);
      for (const sub of c.combine) {
        const picked = sub.map((i: number) => unhex(c.shares[i]));
        expect(hex(await combine(picked))).toBe(c.secret);
        expect(hex(combineSharesFast(picked))).toBe(c.secret);
      }
    }
  });

  it('quantize: fixed uniforms give the vector words; the weighted encoder with a fixed uniform key, and the decode of the ring sum', async () => {
    const v = vector('quantize');
    const q = new Quantizer({ clip: v.quantizer.clip, nMax: v.quantizer.nMax });
    expect(q.scale).toBe(v.quantizer.scale);
    const enc = q.encodeWith(v.quantizer.x, Uint32Array.from(v.quantizer.uniforms));
    expect(Array.from(enc)).toEqual(v.quantizer.encoded);
    expect(Array.from(q.decode(enc))).toEqual(v.quantizer.decoded);
    const w = v.weighted;
    const sum = new Uint32Array(w.ringSum.length);
    for (const c of w.clients) {
      const e = new WeightedEncoder({ clip: w.clip, nMax: w.nMax, weightCap: w.weightCap, platform: scriptedPlatform([unhex(c.uniformKey)]) });
      expect(e.quantizer.scale).toBe(w.scale);
      const out = await e.encode(c.delta, c.weight);
      expect(Array.from(out)).toEqual(c.encoded);
      expect(hex(new Uint8Array(out.buffer))).toBe(c.encodedBytes);
      for (let i = 0; i < sum.length; i++) sum[i] = (sum[i]! + out[i]!) >>> 0;
    }
    expect(Array.from(sum)).toEqual(w.ringSum);
    const d = new WeightedEncoder({ clip: w.clip, nMax: w.nMax, weightCap: w.weightCap }).decode(sum);
    expect(d.totalWeight).toBe(w.totalWeight);
    expect(Array.from(d.weightedSum)).toEqual(w.weightedSum);
    expect(Array.from(d.mean)).toEqual(w.mean);
  });

  it('quantize (dp): the planned scale and Delta2, a rejected and an accepted rounding attempt, encode with fixed keys', async () => {
    const v = vector('quantize').dp;
    const p = v.plan;
    const plan = planDpQuantization({ clip: p.clip, dimension: p.dimension, cohort: p.cohort, minSurvivors: p.minSurvivors, noiseMultiplier: p.noiseMultiplier, distributed: p.distributed });
    expect(plan.scale).toBe(p.scale);
    expect(plan.bound).toBe(p.bound);
    expect(plan.clientStddev).toBe(p.clientStddev);
    const q = new DpQuantizer({ clip: p.clip, scale: p.scale, dimension: p.dimension });
    const y = q.latticeVector(v.delta);
    expect(Array.from(y)).toEqual(v.latticeVector);
    expect(q.roundWith(y, Uint32Array.from(v.roundUpAway.uniforms))).toBeUndefined();
    expect(Array.from(q.roundWith(y, Uint32Array.from(v.towardZero.uniforms))!)).toEqual(v.towardZero.encoded);
    const scripted = scriptedPlatform(v.encode.keys.map(unhex));
    const enc = await new DpQuantizer({ clip: p.clip, scale: p.scale, dimension: p.dimension, platform: scripted }).encode(v.delta);
    expect(Array.from(enc)).toEqual(v.encode.encoded);
    expect(Array.from(q.decode(enc))).toEqual(v.encode.decoded);
  });
});

describe('conformance vectors: messages and frames (v1.md 5)', () => {
  const v = vector('messages');
  const schemas: Record<string, { safeParse(x: unknown): { success: boolean; error?: { issues: { path: PropertyKey[] }[] } } }> = {
    'federation:welcome': welcomeSchema,
    'round:start': roundStartSchema,
    'round:upload': uploadBeginSchema,
    'round:chunk': uploadChunkSchema,
    'round:update': updateMetaSchema,
    'round:evaluate': evaluateReportSchema,
    'round:decline': declineSchema,
    'round:end': roundEndSchema,
    'federation:done': federationDoneSchema,
    ack: ackSchema,
  };

  it('accepts every sample message; the welcome seal key and round:end receipt verify under the coordinator key', async () => {
    const keys = vector('seal-keys');
    for (const m of v.accept) {
      const r = schemas[m.event]!.safeParse(fromWire(m.payload, m.binary));
      expect(r.success, `${m.event}: ${JSON.stringify(r.error?.issues)}`).toBe(true);
      if (m.event === 'federation:welcome') {
        expect(await verifyCoordinatorSealKey(nodePlatform, m.payload.coordinatorKey, m.payload.federationId, m.payload.sealKey)).toBeDefined();
      }
      if (m.event === 'round:end' && m.payload.receipt) expect(verifyReceipt(m.payload.receipt, unhex(keys.coordinator.coordinatorKey))).toBe(true);
    }
  });

  it('refuses every malformed sample, naming the field', () => {
    for (const m of v.refuse) {
      const r = schemas[m.event]!.safeParse(fromWire(m.payload, m.binary));
      expect(r.success, m.about).toBe(false);
      expect(r.error!.issues.map((i) => i.path.join('.')), m.about).toContain(m.path);
    }
  });

  it('the socket.io frames of a sealed upload: a binary field nested in an object is a placeholder plus a binary frame', async () => {
    const keys = vector('seal-keys');
    const chunk = vector('sealed-chunk');
    const upload = v.accept.find((m: Json) => m.event === 'round:upload').payload;
    const { metrics: _m, seal: _s, ...head } = upload;
    const encoder = new Encoder();
    const encode = (id: number, data: unknown[]): { text: string; attachments: string[] } => {
      const [text, ...bin] = encoder.encode({ type: PacketType.EVENT, nsp: '/', id, data });
      return { text: `4${text as string}`, attachments: bin.map((b) => hex(b as Uint8Array)) };
    };
    expect(encode(7, ['round:upload', { ...head, seal: unhex(keys.client.keyRecord) }])).toEqual({ text: v.frames.upload.text, attachments: v.frames.upload.attachments });
    const chunkHead = { roundId: head.roundId, uploadId: head.uploadId, index: 0 };
    expect(encode(8, ['round:chunk', chunkHead, unhex(chunk.chunks[0].sealed)])).toEqual({ text: v.frames.chunk.text, attachments: v.frames.chunk.attachments });
    // Decoding the frames gives the message back, the attachment in place of the placeholder.
    const decoded = await new Promise<Json>((resolve) => {
      const d = new Decoder();
      d.on('decoded', resolve);
      d.add(v.frames.upload.text.slice(1));
      for (const a of v.frames.upload.attachments) d.add(unhex(a));
    });
    expect(decoded.id).toBe(7);
    expect(uploadBeginSchema.safeParse(decoded.data[1]).success).toBe(true);
    expect(hex(decoded.data[1].seal)).toBe(keys.client.keyRecord);
  });
});
