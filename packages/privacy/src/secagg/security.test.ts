import { describe, expect, it } from 'vitest';
import {
  secAggAdvertiseKeysSchema,
  secAggMaskedInputSchema,
  secAggRosterSchema,
  secAggShareDeliverySchema,
  secAggShareKeysSchema,
  secAggUnmaskRequestSchema,
  secAggUnmaskResponseSchema,
} from '../../../protocol/src/secagg.js';
import { generateIdentityKeyPair } from '../crypto/sign.js';
import { nodePlatform } from '../platform/node.js';
import { SecAggClient } from './client.js';
import type { SecAggClientMessage } from './messages.js';
import { SecAggServer } from './server.js';
import { simulateSecAggRound } from './simulate.js';
import { addInto } from './ring.js';

const platform = nodePlatform;
const SESSION = 'sec-test';
const ROUND = 5;

async function setup(n = 6, m = 16, k = 5, t = 4) {
  const ids = Array.from({ length: n }, (_, i) => `c${i}`);
  const params = { session: SESSION, round: ROUND, k, t, vectorLength: m, platform };
  const server = new SecAggServer(params);
  const clients = ids.map((id) => new SecAggClient({ ...params, clientId: id, identity: generateIdentityKeyPair(platform) }));
  const adv = [];
  for (const c of clients) {
    const a = await c.advertiseKeys();
    adv.push(a);
    await server.receiveAdvertise(a);
  }
  const roster = server.closeAdvertise();
  return { ids, params, server, clients, adv, roster };
}

async function throughMasking(n = 6, m = 16) {
  const s = await setup(n, m);
  for (const c of s.clients) s.server.receiveShareKeys(await c.shareKeys(s.roster));
  const deliveries = s.server.closeShareKeys();
  const inputs = s.clients.map((_, i) => new Uint32Array(m).fill(i + 1));
  for (const [i, c] of s.clients.entries()) s.server.receiveMaskedInput(await c.maskedInput(deliveries[i]!, inputs[i]!));
  const request = s.server.closeMaskedInput();
  return { ...s, deliveries, inputs, request };
}

describe('replays across rounds and sessions', () => {
  it('the server rejects stage messages bound to another round or session', async () => {
    const { server, params } = await setup();
    const other = new SecAggClient({ ...params, round: ROUND + 1, clientId: 'zz', identity: generateIdentityKeyPair(platform) });
    const server2 = new SecAggServer(params);
    const msg = await other.advertiseKeys();
    await expect(server2.receiveAdvertise(msg)).rejects.toMatchObject({ code: 'SECAGG_REPLAY' });
    await expect(server2.receiveAdvertise({ ...msg, round: ROUND })).rejects.toMatchObject({ code: 'SECAGG_BAD_SIGNATURE' });
    const otherSession = new SecAggClient({ ...params, session: 'other', clientId: 'zz', identity: generateIdentityKeyPair(platform) });
    await expect(server2.receiveAdvertise(await otherSession.advertiseKeys())).rejects.toMatchObject({ code: 'SECAGG_REPLAY' });
    expect(server.currentStage).toBe('share-keys');
  });
  it('a client rejects a roster or delivery of another round, and stays usable for the genuine one', async () => {
    const s = await setup();
    const c = s.clients[0]!;
    await expect(c.shareKeys({ ...s.roster, round: ROUND - 1 })).rejects.toMatchObject({ code: 'SECAGG_REPLAY' });
    await expect(c.shareKeys({ ...s.roster, session: 'x' })).rejects.toMatchObject({ code: 'SECAGG_REPLAY' });
    const shares = await c.shareKeys(s.roster);
    expect(shares.shares.length).toBe(5);
  });
  it('encrypted shares replayed from another round do not open (bound context)', async () => {
    // Round A and round B with the same clients' identities; replay A's ciphertexts into B.
    const a = await setup();
    for (const c of a.clients) a.server.receiveShareKeys(await c.shareKeys(a.roster));
    const dA = a.server.closeShareKeys();
    const b = await setup();
    for (const c of b.clients) b.server.receiveShareKeys(await c.shareKeys(b.roster));
    const dB = b.server.closeShareKeys();
    const forged = { ...dB[0]!, shares: dA[0]!.shares };
    await expect(b.clients[0]!.maskedInput(forged, new Uint32Array(16))).rejects.toMatchObject({ code: 'SECAGG_DECRYPT_FAILED' });
    // Same keys, wrong context: the bundle for c1 delivered as if it were for c0's pair with c2.
    const c = await setup();
    for (const cl of c.clients) c.server.receiveShareKeys(await cl.shareKeys(c.roster));
    const dC = c.server.closeShareKeys();
    const swapped = dC[0]!.shares.map((s, i, arr) => ({ peer: s.peer, ciphertext: arr[(i + 1) % arr.length]!.ciphertext }));
    await expect(c.clients[0]!.maskedInput({ ...dC[0]!, shares: swapped }, new Uint32Array(16))).rejects.toMatchObject({
      code: expect.stringMatching(/SECAGG_(DECRYPT_FAILED|REPLAY)/),
    });
  });
  it('duplicates and out-of-stage messages are refused', async () => {
    const s = await setup();
    await expect(s.server.receiveAdvertise(s.adv[0]!)).rejects.toMatchObject({ code: 'SECAGG_STAGE' });
    const sk = await s.clients[0]!.shareKeys(s.roster);
    s.server.receiveShareKeys(sk);
    expect(() => s.server.receiveShareKeys(sk)).toThrow(expect.objectContaining({ code: 'SECAGG_DUPLICATE' }));
    await expect(s.clients[0]!.shareKeys(s.roster)).rejects.toMatchObject({ code: 'SECAGG_STAGE' });
  });
});

describe('malicious coordinator', () => {
  it('a roster with a forged signature or a replaced own entry is refused', async () => {
    const s = await setup();
    const forged = { ...s.roster, entries: s.roster.entries.map((e) => ({ ...e, maskKey: e.maskKey.slice() })) };
    // Tamper with every other client's mask key: c0's neighbours' signatures no longer verify.
    for (const e of forged.entries.slice(1)) e.maskKey[0]! ^= 1;
    await expect(s.clients[0]!.shareKeys(forged)).rejects.toMatchObject({ code: 'SECAGG_BAD_SIGNATURE' });
    const s2 = await setup();
    const noSelf = { ...s2.roster, entries: s2.roster.entries.slice(1) };
    await expect(s2.clients[0]!.shareKeys(noSelf)).rejects.toMatchObject({ code: 'SECAGG_MALICIOUS_REQUEST' });
    const s3 = await setup();
    const reused = { ...s3.roster, entries: [...s3.roster.entries, { ...s3.roster.entries[1]!, clientId: 'ghost' }] };
    await expect(s3.clients[0]!.shareKeys(reused)).rejects.toMatchObject({ code: 'SECAGG_BAD_MESSAGE' });
  });
  it('an unmask request listing a client as both dropped and surviving is refused', async () => {
    const s = await throughMasking();
    const evil = { ...s.request, dropped: [s.ids[1]!] };
    await expect(s.clients[0]!.unmask(evil)).rejects.toMatchObject({ code: 'SECAGG_MALICIOUS_REQUEST' });
  });
  it('an unmask request with fewer than t survivors, or naming the client itself as dropped, is refused', async () => {
    const s = await throughMasking();
    await expect(s.clients[0]!.unmask({ ...s.request, survivors: s.ids.slice(0, 3), dropped: s.ids.slice(3) })).rejects.toMatchObject({
      code: 'SECAGG_MALICIOUS_REQUEST',
    });
    await expect(s.clients[1]!.unmask({ ...s.request, survivors: s.ids.slice(2), dropped: s.ids.slice(0, 2) })).rejects.toMatchObject({
      code: 'SECAGG_MALICIOUS_REQUEST',
    });
    await expect(s.clients[2]!.unmask({ ...s.request, round: ROUND + 1 })).rejects.toMatchObject({ code: 'SECAGG_REPLAY' });
  });
  it('a client answers one unmask request only, never revealing both shares of one client', async () => {
    const s = await throughMasking();
    const first = await s.clients[0]!.unmask(s.request);
    expect(first.selfSeedShares.length).toBe(5);
    expect(first.maskKeyShares.length).toBe(0);
    const second = { ...s.request, survivors: s.ids.filter((id) => id !== s.ids[1]), dropped: [s.ids[1]!] };
    await expect(s.clients[0]!.unmask(second)).rejects.toMatchObject({ code: 'SECAGG_STAGE' });
  });
  it('the honest path still works and the server never exposes a partial sum on abort', async () => {
    const s = await throughMasking();
    for (const c of s.clients.slice(0, 3)) s.server.receiveUnmask(await c.unmask(s.request));
    const err = await s.server.finalize().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SECAGG_ABORTED' });
    expect(String((err as Error).message)).not.toMatch(/\d{3,}/);
    const ok = await throughMasking();
    for (const c of ok.clients) ok.server.receiveUnmask(await c.unmask(ok.request));
    const sum = await ok.server.finalize();
    const expected = new Uint32Array(16);
    for (const x of ok.inputs) addInto(expected, x);
    expect(sum).toEqual(expected);
  });
});

describe('identities and cohort', () => {
  it('a client refuses neighbours whose identity the PKI hook rejects; the server refuses ids outside the cohort', async () => {
    const s = await setup();
    const pinned = new SecAggClient({ ...s.params, clientId: 'c0', identity: generateIdentityKeyPair(platform), trustIdentity: (id) => id !== 'c3' });
    const adv = await pinned.advertiseKeys();
    const roster = { ...s.roster, entries: s.roster.entries.map((e) => (e.clientId === 'c0' ? adv : e)) };
    await expect(pinned.shareKeys(roster)).rejects.toMatchObject({ code: 'SECAGG_BAD_SIGNATURE' });
    const server = new SecAggServer({ ...s.params, cohort: ['a', 'b', 'c'] });
    await expect(server.receiveAdvertise(s.adv[0]!)).rejects.toMatchObject({ code: 'SECAGG_BAD_MESSAGE' });
  });
  it('public entry points check their arguments', async () => {
    const s = await setup();
    expect(() => new SecAggClient({ ...s.params, clientId: 'x', identity: { publicKey: new Uint8Array(32), secretKey: new Uint8Array(10) } })).toThrow(/identity.secretKey/);
    expect(() => new SecAggServer({ ...s.params, t: 1 })).toThrow(RangeError);
    expect(() => new SecAggServer({ ...s.params, vectorLength: 0 })).toThrow(/vectorLength/);
    expect(() => new SecAggServer({ ...s.params, session: 7 as unknown as string })).toThrow(TypeError);
    for (const c of s.clients) s.server.receiveShareKeys(await c.shareKeys(s.roster));
    const d = s.server.closeShareKeys();
    await expect(s.clients[0]!.maskedInput(d[0]!, new Uint32Array(15))).rejects.toThrow(RangeError);
    await expect(s.clients[0]!.maskedInput(d[0]!, new Float32Array(16) as unknown as Uint32Array)).rejects.toThrow(TypeError);
    expect(() => s.server.receiveMaskedInput(null as unknown as never)).toThrow(TypeError);
  });
});

describe('transcript', () => {
  it('messages parse with the protocol schemas', async () => {
    const s = await throughMasking();
    expect(secAggRosterSchema.safeParse(s.roster).success).toBe(true);
    for (const a of s.adv) expect(secAggAdvertiseKeysSchema.safeParse(a).success).toBe(true);
    for (const d of s.deliveries) expect(secAggShareDeliverySchema.safeParse(d).success).toBe(true);
    expect(secAggUnmaskRequestSchema.safeParse(s.request).success).toBe(true);
    const r = await s.clients[0]!.unmask(s.request);
    expect(secAggUnmaskResponseSchema.safeParse(r).success).toBe(true);
    const t = await setup();
    const sk = await t.clients[0]!.shareKeys(t.roster);
    expect(secAggShareKeysSchema.safeParse(sk).success).toBe(true);
    expect(secAggShareKeysSchema.safeParse({ ...sk, shares: [{ peer: 'x', ciphertext: new Uint8Array(3) }] }).success).toBe(false);
  });
  it('no individual quantized update appears in what the server receives; masked vectors look uniform', async () => {
    const n = 10;
    const m = 4096;
    const ids = Array.from({ length: n }, (_, i) => `c${i}`);
    // Highly structured inputs (small values, long runs): any leak would be easy to spot.
    const input = (id: string): Uint32Array => {
      const i = Number(id.slice(1));
      return Uint32Array.from({ length: m }, (_, j) => (i * 31 + (j % 17)) >>> 0);
    };
    const transcript: Uint8Array[] = [];
    const masked: Uint8Array[] = [];
    const collect = (v: unknown): void => {
      if (v instanceof Uint8Array) transcript.push(v);
      else if (Array.isArray(v)) v.forEach(collect);
      else if (typeof v === 'object' && v !== null) Object.values(v).forEach(collect);
      else if (typeof v === 'string' || typeof v === 'number') transcript.push(new TextEncoder().encode(String(v)));
    };
    const r = await simulateSecAggRound({
      session: SESSION, round: ROUND, ids, k: 9, t: 6, vectorLength: m, platform, input,
      drop: { maskedInput: ['c3'] },
      onServerReceive: (msg: SecAggClientMessage) => {
        collect(msg);
        if (msg.stage === 'masked-input') {
          expect(secAggMaskedInputSchema.safeParse(msg).success).toBe(true);
          masked.push(msg.masked.slice());
        }
      },
    });
    const all = Buffer.concat(transcript.map((b) => Buffer.from(b.buffer, b.byteOffset, b.length)));
    for (const id of ids) {
      const x = input(id);
      const bytes = Buffer.from(x.buffer, x.byteOffset, x.byteLength);
      // any 16-byte window of any client's update (4 consecutive coordinates)
      for (let off = 0; off + 16 <= bytes.length; off += 4 * 97) expect(all.indexOf(bytes.subarray(off, off + 16))).toBe(-1);
    }
    // chi-square on the top byte of every masked coordinate (256 bins, 255 dof)
    const bins = new Float64Array(256);
    let total = 0;
    for (const b of masked) {
      for (let i = 3; i < b.length; i += 4) bins[b[i]!]!++;
      total += b.length / 4;
    }
    const e = total / 256;
    let chi2 = 0;
    for (const o of bins) chi2 += ((o - e) * (o - e)) / e;
    // P(chi2_255 > 372) ~ 1e-6; a masked structured input would give chi2 in the 1e5+ range.
    expect(chi2).toBeLessThan(372);
    // and the unmasked aggregate is still exact
    const expected = new Uint32Array(m);
    for (const id of ids) if (id !== 'c3') addInto(expected, input(id));
    expect(r.sum).toEqual(expected);
  });
});
