/**
 * Conformance vectors (protocol/vectors/*.json, protocol/v1.md 15): the implementation must
 * reproduce every output byte for byte, and accept or refuse what each vector says. The
 * vectors are committed; this test never regenerates them (protocol/vectors/generate.ts does,
 * by hand), so a code change that changes the wire fails here.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
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
  packAdvertise,
  packMaskedInput,
  packRoster,
  packShares,
  packUnmask,
  roundEndSchema,
  roundStartSchema,
  specSize,
  unpackAdvertise,
  unpackMaskedInput,
  unpackRoster,
  unpackShares,
  unpackUnmask,
  updateMetaSchema,
  uploadBeginSchema,
  uploadChunkSchema,
  welcomeSchema,
  type ModelSpec,
  type SecAggUnmaskRequest,
} from '@flock/protocol';
import {
  Quantizer,
  SecAggClient,
  SecAggServer,
  WeightedEncoder,
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
  type PrivacyReceipt,
  type SealedUploadContext,
} from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { webPlatform } from '@flock/privacy';
import { checkReceipt } from '@flock/client';
import { hex, scriptedPlatform, shamirDraws, unhex, withNodeRandom } from '../protocol/vectors/fixed-random.js';
import { combineSharesFast, reconstructMaskKey, reconstructSelfSeed, shareSecret } from '../packages/privacy/src/secagg/shamir.js';
import { advertiseSignedBytes, shareContext } from '../packages/privacy/src/secagg/keys.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const dir = new URL('../protocol/vectors/', import.meta.url);
const vector = (name: string): Json => JSON.parse(readFileSync(new URL(`${name}.json`, dir), 'utf8'));

const FILES = ['tensor-codec', 'model-hash', 'handshake', 'seal-keys', 'sealed-chunk', 'receipts', 'secagg-kdf', 'secagg-prg', 'secagg-graph', 'shamir', 'quantize', 'secagg-round', 'messages'];

/** Binary fields (named in `binary`) from hex back to bytes, as socket.io delivers attachments. */
function fromWire(payload: Record<string, unknown>, binary: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = { ...payload };
  for (const k of binary) out[k] = unhex(payload[k] as string);
  return out;
}

function toWire(payload: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(payload).map(([k, v]) => [k, v instanceof Uint8Array ? hex(v) : v]));
}

function f32FromBits(bits: string[]): Float32Array {
  const buf = Buffer.from(bits.join(''), 'hex');
  return Float32Array.from(bits, (_, i) => buf.readFloatBE(4 * i));
}

describe('conformance vectors: the set', () => {
  it('every vector file is exercised below, and each names how it was produced', () => {
    const present = readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
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

  it('receipts: canonical signed bytes and signatures; round:end receipts verify (SDK check too); any change breaks them', () => {
    const v = vector('receipts');
    const coord = nacl.sign.keyPair.fromSeed(unhex(vector('seal-keys').coordinator.ed25519Seed));
    expect(hex(coord.publicKey)).toBe(v.coordinatorKey);
    for (const c of v.cases) {
      expect(hex(canonicalReceiptBytes(c.receipt as PrivacyReceipt)), c.name).toBe(c.signedBytes);
      expect(Buffer.from(c.signedBytes, 'hex').toString('utf8')).toBe(c.signedText);
      expect(signReceipt(c.receipt as PrivacyReceipt, coord.secretKey).signature).toBe(c.signature);
      expect(verifyReceipt(c.roundEnd, coord.publicKey)).toBe(true);
      expect(checkReceipt(c.roundEnd, v.coordinatorKey)).toEqual(c.receipt);
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
});

describe('conformance vectors: a whole SecAgg round (secagg-round.json)', () => {
  const v = vector('secagg-round');
  const cfg = v.roundStartSecagg;
  const msgs: Json[] = v.messages;
  const sent = (from: string, event: string): Json => msgs.find((m) => m.from === from && m.event === event);
  const to = (id: string, event: string): Json => msgs.find((m) => m.to === id && m.event === event);

  it('round:start.secagg parses; the derived keys, commitments, pairwise seeds, box keys and shares match', async () => {
    expect(roundStartSchema.shape.secagg.safeParse(cfg).success).toBe(true);
    for (const [id, d] of Object.entries<Json>(v.derived)) {
      const identity = nacl.sign.keyPair.fromSeed(unhex(d.identitySeed));
      expect(hex(identity.publicKey)).toBe(d.identityKey);
      expect(hex(nacl.scalarMult.base(unhex(d.encryptionSecretKey)))).toBe(d.encryptionKey);
      expect(hex(nacl.scalarMult.base(unhex(d.maskSecretKey)))).toBe(d.maskKey);
      expect(hex(selfSeedCommitment(cfg.session, v.round, id, unhex(d.selfSeed)))).toBe(d.selfSeedCommitment);
      const k = d.neighbours.length;
      const splits = [
        ['maskKey', unhex(d.maskSecretKey)],
        ['selfSeed', unhex(d.selfSeed)],
      ] as const;
      for (const [what, secret] of splits) {
        const r = d.shamirRandom[what];
        const shares = await withNodeRandom(shamirDraws(unhex(r.coordinateBytes), unhex(r.coefficientBytes), 32, cfg.t), () => shareSecret(secret, k, cfg.t));
        expect(shares.map(hex)).toEqual(d[`${what}Shares`]);
      }
      for (const n of d.neighbours) {
        const peer = v.derived[n.neighbour];
        const dh = nacl.scalarMult(unhex(d.maskSecretKey), unhex(peer.maskKey));
        expect(hex(pairwiseSeed(cfg.session, v.round, unhex(d.maskKey), unhex(peer.maskKey), dh))).toBe(n.pairwiseSeed);
        const boxKey = await sealSharedKey(nodePlatform, { secretKey: unhex(d.encryptionSecretKey), publicKey: unhex(d.encryptionKey) }, unhex(peer.encryptionKey));
        expect(hex(boxKey!)).toBe(n.boxKey);
        expect(n.maskSign).toBe(id < n.neighbour ? 1 : -1);
      }
      const adv = sent(id, 'secagg:advertise-keys').payload;
      const signed = advertiseSignedBytes({ session: cfg.session, round: v.round, clientId: id, encryptionKey: unhex(d.encryptionKey), maskKey: unhex(d.maskKey), selfSeedCommitment: unhex(d.selfSeedCommitment) });
      expect(nacl.sign.detached.verify(signed, unhex(adv.keys).subarray(128), identity.publicKey)).toBe(true);
    }
  });

  it('each client, replayed with its draws, sends exactly the recorded messages at every stage', async () => {
    for (const [id, d] of Object.entries<Json>(v.derived)) {
      const identity = nacl.sign.keyPair.fromSeed(unhex(d.identitySeed));
      const platform = scriptedPlatform([unhex(d.encryptionSecretKey), unhex(d.maskSecretKey), unhex(d.selfSeed), ...d.neighbours.map((n: Json) => unhex(n.nonce))]);
      const client = new SecAggClient({ session: cfg.session, round: v.round, k: cfg.k, t: cfg.t, vectorLength: cfg.vectorLength, clientId: id, identity, platform });
      expect(toWire(packAdvertise(await client.advertiseKeys()))).toEqual(sent(id, 'secagg:advertise-keys').payload);
      const roster = to(id, 'secagg:roster');
      const r = d.shamirRandom;
      const draws = [...shamirDraws(unhex(r.maskKey.coordinateBytes), unhex(r.maskKey.coefficientBytes), 32, cfg.t), ...shamirDraws(unhex(r.selfSeed.coordinateBytes), unhex(r.selfSeed.coefficientBytes), 32, cfg.t)];
      const shares = await withNodeRandom(draws, () => client.shareKeys(unpackRoster(fromWire(roster.payload, roster.binary))));
      expect(toWire(packShares(shares))).toEqual(sent(id, 'secagg:share-keys').payload);
      for (const s of shares.shares) expect(s.ciphertext.length).toBe(138);
      const bundle = d.neighbours[0];
      const first = shares.shares[0]!;
      expect(first.peer).toBe(bundle.neighbour);
      expect(hex(first.ciphertext.subarray(0, 24))).toBe(bundle.nonce);
      const body = nacl.secretbox.open(first.ciphertext.subarray(24), first.ciphertext.subarray(0, 24), unhex(bundle.boxKey))!;
      expect(hex(body.subarray(32))).toBe(bundle.bundlePlaintext);
      expect(hex(body.subarray(0, 32))).toBe(hex(sha256(shareContext(cfg.session, v.round, id, bundle.neighbour))));
      if (!d.encoded) continue; // dropped out before masking
      expect(platform.left).toBe(0);
      const encoder = new WeightedEncoder({ clip: cfg.clip, nMax: cfg.nMax, weightCap: cfg.weightCap, platform: scriptedPlatform([unhex(d.uniformKey)]) });
      const x = await encoder.encode(d.update.delta, d.update.numExamples);
      expect(Array.from(x)).toEqual(d.encoded);
      const delivery = to(id, 'secagg:share-delivery');
      const masked = await client.maskedInput(unpackShares('share-delivery', fromWire(delivery.payload, delivery.binary)), x);
      expect(toWire(packMaskedInput(masked))).toEqual(sent(id, 'secagg:masked-input').payload);
      const y = Buffer.from(masked.masked);
      for (let j = 0; j < cfg.vectorLength; j++) {
        let w = d.encoded[j] + d.selfMask[j];
        d.neighbours.forEach((n: Json, i: number) => (w += n.maskSign * d.pairwiseMasks[i][j]));
        expect(y.readUInt32LE(4 * j)).toBe(w >>> 0);
      }
      const request = to(id, 'secagg:unmask-request').payload as SecAggUnmaskRequest;
      expect(toWire(packUnmask(await client.unmask(request)))).toEqual(sent(id, 'secagg:unmask').payload);
    }
  });

  it('the coordinator side, fed the recorded client messages, sends the recorded roster, deliveries and unmask request and unmasks the sum', async () => {
    const cohort = Object.keys(v.derived);
    const server = new SecAggServer({ session: cfg.session, round: v.round, k: cfg.k, t: cfg.t, vectorLength: cfg.vectorLength, cohort, nMax: cfg.nMax });
    const up = (event: string): Json[] => msgs.filter((m) => m.event === event && m.to === 'coordinator');
    for (const m of up('secagg:advertise-keys')) await server.receiveAdvertise(unpackAdvertise(fromWire(m.payload, m.binary)));
    const roster = packRoster(server.closeAdvertise());
    for (const id of cohort) expect(toWire(roster)).toEqual(to(id, 'secagg:roster').payload);
    for (const m of up('secagg:share-keys')) server.receiveShareKeys(unpackShares('share-keys', fromWire(m.payload, m.binary)));
    for (const d of server.closeShareKeys()) expect(toWire(packShares(d))).toEqual(to(d.clientId, 'secagg:share-delivery').payload);
    for (const m of up('secagg:masked-input')) server.receiveMaskedInput(unpackMaskedInput(fromWire(m.payload, m.binary)));
    const request = server.closeMaskedInput();
    for (const id of request.survivors) expect(request).toEqual(to(id, 'secagg:unmask-request').payload);
    for (const m of up('secagg:unmask')) server.receiveUnmask(unpackUnmask(fromWire(m.payload, m.binary)));
    const sum = await server.finalize();
    expect(Array.from(sum)).toEqual(v.result.sum);
    const decoded = new WeightedEncoder({ clip: cfg.clip, nMax: cfg.nMax, weightCap: cfg.weightCap }).decode(sum);
    expect(decoded.totalWeight).toBe(v.result.totalWeight);
    expect(Array.from(decoded.mean)).toEqual(v.result.mean);
  });

  it("a dropped client's mask key and a survivor's self seed reconstruct from the revealed shares and check against the roster", async () => {
    const carol = v.derived.carol;
    const revealed = msgs.filter((m) => m.event === 'secagg:unmask').map((m) => unpackUnmask(fromWire(m.payload, m.binary)));
    const keyShares = revealed.flatMap((r) => r.maskKeyShares.filter((s) => s.owner === 'carol').map((s) => s.share));
    expect(keyShares.length).toBeGreaterThanOrEqual(cfg.t);
    expect(hex(await reconstructMaskKey(keyShares, cfg.t, unhex(carol.maskKey), nodePlatform))).toBe(carol.maskSecretKey);
    const alice = v.derived.alice;
    const seedShares = revealed.flatMap((r) => r.selfSeedShares.filter((s) => s.owner === 'alice').map((s) => s.share));
    expect(hex(await reconstructSelfSeed(seedShares, cfg.t, unhex(alice.selfSeedCommitment), { session: cfg.session, round: v.round, clientId: 'alice' }))).toBe(alice.selfSeed);
    for (const r of revealed) for (const s of [...r.selfSeedShares, ...r.maskKeyShares]) expect(s.share.length).toBe(33);
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
