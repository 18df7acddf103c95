/**
 * Conformance vector secagg-round.json (protocol/secagg.md): each client replayed from its
 * random draws and the coordinator side fed the recorded messages must reproduce every
 * message byte for byte; refusals must change nothing. Never regenerates the vector.
 */
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import {
  packAdvertise,
  packMaskedInput,
  packRoster,
  packShares,
  packUnmask,
  roundStartSchema,
  unpackAdvertise,
  unpackMaskedInput,
  unpackRoster,
  unpackShares,
  unpackUnmask,
  type SecAggUnmaskRequest,
} from '@flock/protocol';
import { SecAggClient, SecAggServer, WeightedEncoder, pairwiseSeed, sealSharedKey, selfSeedCommitment, sha256 } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { hex, scriptedPlatform, shamirDraws, unhex, withNodeRandom } from '../protocol/vectors/fixed-random.js';
import { reconstructMaskKey, reconstructSelfSeed, shareSecret } from '../packages/privacy/src/secagg/shamir.js';
import { advertiseSignedBytes, shareContext } from '../packages/privacy/src/secagg/keys.js';
import { fromWire, toWire, vector, type Json } from './conformance-helpers.js';

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

  it('a client does not depend on the order of the bundles in its delivery (secagg.md 3.4)', async () => {
    const id = 'alice';
    const d = v.derived[id];
    const identity = nacl.sign.keyPair.fromSeed(unhex(d.identitySeed));
    const platform = scriptedPlatform([unhex(d.encryptionSecretKey), unhex(d.maskSecretKey), unhex(d.selfSeed), ...d.neighbours.map((n: Json) => unhex(n.nonce))]);
    const client = new SecAggClient({ session: cfg.session, round: v.round, k: cfg.k, t: cfg.t, vectorLength: cfg.vectorLength, clientId: id, identity, platform });
    await client.advertiseKeys();
    const roster = to(id, 'secagg:roster');
    const r = d.shamirRandom;
    const draws = [...shamirDraws(unhex(r.maskKey.coordinateBytes), unhex(r.maskKey.coefficientBytes), 32, cfg.t), ...shamirDraws(unhex(r.selfSeed.coordinateBytes), unhex(r.selfSeed.coefficientBytes), 32, cfg.t)];
    await withNodeRandom(draws, () => client.shareKeys(unpackRoster(fromWire(roster.payload, roster.binary))));
    const delivery = unpackShares('share-delivery', fromWire(to(id, 'secagg:share-delivery').payload, ['ciphertexts']));
    const reversed = { ...delivery, shares: [...delivery.shares].reverse() };
    expect(reversed.shares.map((s) => s.peer)).not.toEqual(delivery.shares.map((s) => s.peer));
    const masked = await client.maskedInput(reversed, Uint32Array.from(d.encoded));
    expect(toWire(packMaskedInput(masked))).toEqual(sent(id, 'secagg:masked-input').payload);
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

  it('refusals change nothing: the coordinator side refuses forged, foreign, duplicate, reused, oversized and misaddressed stage messages and still unmasks the same sum', async () => {
    const cohort = Object.keys(v.derived);
    const server = new SecAggServer({ session: cfg.session, round: v.round, k: cfg.k, t: cfg.t, vectorLength: cfg.vectorLength, cohort, nMax: cfg.nMax });
    const up = (event: string): Json[] => msgs.filter((m) => m.event === event && m.to === 'coordinator');
    const adverts = up('secagg:advertise-keys').map((m) => unpackAdvertise(fromWire(m.payload, m.binary)));
    const signAs = (id: string, body: { encryptionKey: Uint8Array; maskKey: Uint8Array; selfSeedCommitment: Uint8Array }): Json => {
      const kp = nacl.sign.keyPair.fromSeed(unhex(v.derived[id].identitySeed));
      const signed = advertiseSignedBytes({ session: cfg.session, round: v.round, clientId: id, ...body });
      return { stage: 'advertise-keys', session: cfg.session, round: v.round, clientId: id, identityKey: kp.publicKey, ...body, signature: nacl.sign.detached(signed, kp.secretKey) };
    };
    const code = async (f: () => unknown): Promise<string> => {
      try {
        await f();
        return 'accepted';
      } catch (e) {
        return (e as { code: string }).code;
      }
    };
    const [alice, bob, carol, dave] = adverts as [Json, Json, Json, Json];
    const forged = { ...alice, signature: alice.signature.slice() };
    forged.signature[0] ^= 1;
    expect(await code(() => server.receiveAdvertise(forged))).toBe('SECAGG_BAD_SIGNATURE');
    expect(await code(() => server.receiveAdvertise({ ...alice, clientId: 'mallory' }))).toBe('SECAGG_BAD_MESSAGE');
    expect(await code(() => server.receiveAdvertise(alice))).toBe('accepted');
    expect(await code(() => server.receiveAdvertise(alice))).toBe('SECAGG_DUPLICATE');
    expect(await code(() => server.receiveAdvertise(bob))).toBe('accepted');
    const reuse = signAs('dave', { encryptionKey: dave.encryptionKey, maskKey: bob.maskKey, selfSeedCommitment: dave.selfSeedCommitment });
    expect(await code(() => server.receiveAdvertise(reuse))).toBe('SECAGG_BAD_MESSAGE');
    for (const a of [carol, dave]) expect(await code(() => server.receiveAdvertise(a))).toBe('accepted');
    const small = new SecAggServer({ session: cfg.session, round: v.round, k: cfg.k, t: cfg.t, vectorLength: cfg.vectorLength, nMax: 3 });
    for (const a of adverts.slice(0, 3)) await small.receiveAdvertise(a);
    expect(await code(() => small.receiveAdvertise(dave))).toBe('SECAGG_COHORT_TOO_LARGE');
    expect(toWire(packRoster(server.closeAdvertise()))).toEqual(to('alice', 'secagg:roster').payload);

    const shares = up('secagg:share-keys').map((m) => unpackShares('share-keys', fromWire(m.payload, m.binary)));
    const [sa] = shares as [Json];
    expect(await code(() => server.receiveShareKeys({ ...sa, shares: sa.shares.slice(1) }))).toBe('SECAGG_BAD_MESSAGE');
    expect(await code(() => server.receiveShareKeys({ ...sa, shares: sa.shares.map((s: Json, i: number) => (i === 0 ? { ...s, peer: 'mallory' } : s)) }))).toBe('SECAGG_BAD_MESSAGE');
    expect(await code(() => server.receiveShareKeys({ ...sa, shares: sa.shares.map((s: Json, i: number) => (i === 0 ? { ...s, ciphertext: s.ciphertext.subarray(1) } : s)) }))).toBe('SECAGG_BAD_MESSAGE');
    for (const s of shares) server.receiveShareKeys(s);
    expect(await code(() => server.receiveShareKeys(sa))).toBe('SECAGG_DUPLICATE');
    for (const d of server.closeShareKeys()) expect(toWire(packShares(d))).toEqual(to(d.clientId, 'secagg:share-delivery').payload);

    const masked = up('secagg:masked-input').map((m) => unpackMaskedInput(fromWire(m.payload, m.binary)));
    const [ma] = masked as [Json];
    expect(await code(() => server.receiveMaskedInput({ ...ma, clientId: 'mallory' }))).toBe('SECAGG_BAD_MESSAGE');
    expect(await code(() => server.receiveMaskedInput({ ...ma, masked: ma.masked.subarray(4) }))).toBe('SECAGG_BAD_MESSAGE');
    for (const m of masked) server.receiveMaskedInput(m);
    expect(await code(() => server.receiveMaskedInput(ma))).toBe('SECAGG_DUPLICATE');
    expect(server.closeMaskedInput()).toEqual(to('alice', 'secagg:unmask-request').payload);

    const unmasks = up('secagg:unmask').map((m) => unpackUnmask(fromWire(m.payload, m.binary)));
    const [ua] = unmasks as [Json];
    const carolSeed = { owner: 'carol', share: ua.maskKeyShares[0].share };
    expect(await code(() => server.receiveUnmask({ ...ua, selfSeedShares: [...ua.selfSeedShares, carolSeed] }))).toBe('SECAGG_BAD_MESSAGE');
    expect(await code(() => server.receiveUnmask({ ...ua, clientId: 'carol' }))).toBe('SECAGG_BAD_MESSAGE');
    for (const u of unmasks) server.receiveUnmask(u);
    expect(Array.from(await server.finalize())).toEqual(v.result.sum);
  });

  it('the client side refuses a roster whose graph is below t, a low-order encryption key, and deliveries that are misaddressed, repeat a sender or bring fewer than t bundles', async () => {
    const id = 'alice';
    const d = v.derived[id];
    const fresh = async (): Promise<SecAggClient> => {
      const platform = scriptedPlatform([unhex(d.encryptionSecretKey), unhex(d.maskSecretKey), unhex(d.selfSeed), ...d.neighbours.map((n: Json) => unhex(n.nonce))]);
      const c = new SecAggClient({ session: cfg.session, round: v.round, k: cfg.k, t: cfg.t, vectorLength: cfg.vectorLength, clientId: id, identity: nacl.sign.keyPair.fromSeed(unhex(d.identitySeed)), platform });
      await c.advertiseKeys();
      return c;
    };
    const r = d.shamirRandom;
    const draws = (): Uint8Array[] => [...shamirDraws(unhex(r.maskKey.coordinateBytes), unhex(r.maskKey.coefficientBytes), 32, cfg.t), ...shamirDraws(unhex(r.selfSeed.coordinateBytes), unhex(r.selfSeed.coefficientBytes), 32, cfg.t)];
    const rosterMsg = to(id, 'secagg:roster');
    const roster = unpackRoster(fromWire(rosterMsg.payload, rosterMsg.binary));
    const code = async (f: () => Promise<unknown>): Promise<string> => f().then(() => 'accepted', (e: { code: string }) => e.code);
    // Two entries: a graph of degree 1 < t = 2.
    expect(await code(async () => (await fresh()).shareKeys({ ...roster, entries: roster.entries.filter((e) => e.clientId === 'alice' || e.clientId === 'bob') }))).toBe('SECAGG_ABORTED');
    // bob's entry re-signed by bob with the all-zero encryption key: no box key can be made.
    const bob = roster.entries.find((e) => e.clientId === 'bob')!;
    const bobKp = nacl.sign.keyPair.fromSeed(unhex(v.derived.bob.identitySeed));
    const zeroEnc = { ...bob, encryptionKey: new Uint8Array(32) };
    zeroEnc.signature = nacl.sign.detached(advertiseSignedBytes(zeroEnc), bobKp.secretKey);
    expect(await code(async () => (await fresh()).shareKeys({ ...roster, entries: roster.entries.map((e) => (e.clientId === 'bob' ? zeroEnc : e)) }))).toBe('SECAGG_ZERO_DH');
    const deliveryMsg = to(id, 'secagg:share-delivery');
    const delivery = unpackShares('share-delivery', fromWire(deliveryMsg.payload, deliveryMsg.binary));
    const prepared = async (): Promise<SecAggClient> => {
      const c = await fresh();
      await withNodeRandom(draws(), () => c.shareKeys(roster));
      return c;
    };
    const x = Uint32Array.from(d.encoded);
    expect(await code(async () => (await prepared()).maskedInput({ ...delivery, clientId: 'bob' }, x))).toBe('SECAGG_BAD_MESSAGE');
    expect(await code(async () => (await prepared()).maskedInput({ ...delivery, shares: [delivery.shares[0]!, delivery.shares[0]!] }, x))).toBe('SECAGG_BAD_MESSAGE');
    expect(await code(async () => (await prepared()).maskedInput({ ...delivery, shares: delivery.shares.slice(0, 1) }, x))).toBe('SECAGG_ABORTED');
  });

  it("a dropped client's mask key and a survivor's self seed reconstruct from the revealed shares and check against the roster", async () => {
    const carol = v.derived.carol;
    const revealed = msgs.filter((m) => m.event === 'secagg:unmask').map((m) => unpackUnmask(fromWire(m.payload, m.binary)));
    const keyShares = revealed.flatMap((r) => r.maskKeyShares.filter((s) => s.owner === 'carol').map((s) => ({ sender: r.clientId, share: s.share })));
    expect(keyShares.length).toBeGreaterThanOrEqual(cfg.t);
    expect(hex((await reconstructMaskKey(keyShares, cfg.t, unhex(carol.maskKey), nodePlatform)).secret)).toBe(carol.maskSecretKey);
    const alice = v.derived.alice;
    const seedShares = revealed.flatMap((r) => r.selfSeedShares.filter((s) => s.owner === 'alice').map((s) => ({ sender: r.clientId, share: s.share })));
    expect(hex((await reconstructSelfSeed(seedShares, cfg.t, unhex(alice.selfSeedCommitment), { session: cfg.session, round: v.round, clientId: 'alice' })).secret)).toBe(alice.selfSeed);
    for (const r of revealed) for (const s of [...r.selfSeedShares, ...r.maskKeyShares]) expect(s.share.length).toBe(33);
  });
});

