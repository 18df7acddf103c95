import { describe, expect, it } from 'vitest';
import { generateIdentityKeyPair } from '../crypto/sign.js';
import { nodePlatform } from '../platform/node.js';
import { SecAggClient } from './client.js';
import type { UnmaskResponseMessage } from './messages.js';
import { SecAggServer } from './server.js';
import { reconstructSelfSeed, shareSecret } from './shamir.js';
import { selfSeedCommitment } from './kdf.js';

const platform = nodePlatform;
const SESSION = 'robust';
const ROUND = 9;

/**
 * Same x-coordinate, every value byte wrong by an independent random non-zero amount. (A fixed
 * pattern made several corrupted shares' errors cancel in the interpolation whenever their
 * Lagrange coefficients summed to zero, about 1 run in 255: the "refused" case then decoded the
 * right secret.)
 */
function corrupt(share: Uint8Array): Uint8Array {
  const s = share.slice();
  const noise = nodePlatform.randomBytes(s.length - 1);
  for (let i = 0; i < s.length - 1; i++) s[i] = s[i]! ^ (noise[i]! | 1);
  return s;
}

describe('robust reconstruction (issue 12 item 10)', () => {
  it('k = 19, t = 13: one client whose corrupted shares arrive first no longer aborts the round, and is named', async () => {
    const n = 20;
    const m = 16;
    const ids = Array.from({ length: n }, (_, i) => `r${String(i).padStart(2, '0')}`);
    const params = { session: SESSION, round: ROUND, k: 19, t: 13, vectorLength: m, platform };
    const server = new SecAggServer(params);
    const clients = new Map(ids.map((id) => [id, new SecAggClient({ ...params, clientId: id, identity: generateIdentityKeyPair(platform) })]));
    for (const c of clients.values()) await server.receiveAdvertise(await c.advertiseKeys());
    const roster = server.closeAdvertise();
    for (const c of clients.values()) server.receiveShareKeys(await c.shareKeys(roster));
    const deliveries = server.closeShareKeys();
    const dropped = 'r07'; // drops after share-keys: its mask key is reconstructed too
    let expected = 0;
    for (const d of deliveries) {
      if (d.clientId === dropped) continue;
      const v = ids.indexOf(d.clientId) + 1;
      expected += v;
      server.receiveMaskedInput(await clients.get(d.clientId)!.maskedInput(d, new Uint32Array(m).fill(v)));
    }
    const request = server.closeMaskedInput();
    const bad = 'r13';
    const responses: UnmaskResponseMessage[] = [];
    for (const id of request.survivors) responses.push(await clients.get(id)!.unmask(request));
    // The malicious client answers first, with every share it reveals corrupted.
    responses.sort((a, b) => (a.clientId === bad ? -1 : b.clientId === bad ? 1 : 0));
    for (const r of responses) {
      if (r.clientId !== bad) server.receiveUnmask(r);
      else {
        server.receiveUnmask({
          ...r,
          selfSeedShares: r.selfSeedShares.map((s) => ({ owner: s.owner, share: corrupt(s.share) })),
          maskKeyShares: r.maskKeyShares.map((s) => ({ owner: s.owner, share: corrupt(s.share) })),
        });
      }
    }
    const sum = await server.finalize();
    expect([...sum]).toEqual(new Array(m).fill(expected));
    const senders = new Set(server.misbehaviour.map((e) => e.sender));
    expect([...senders]).toEqual([bad]);
    const kinds = new Set(server.misbehaviour.map((e) => e.kind));
    expect(kinds).toEqual(new Set(['self-seed', 'mask-key']));
  });

  it('decodes with up to floor((N - t) / 2) corrupted shares anywhere, naming exactly those', async () => {
    const secret = nodePlatform.randomBytes(32);
    const ctx = { session: 's', round: 1, clientId: 'owner' };
    const commitment = selfSeedCommitment(ctx.session, ctx.round, ctx.clientId, secret);
    for (const [N, t] of [
      [19, 13],
      [30, 16],
      [9, 5],
    ] as const) {
      const shares = await shareSecret(secret, N, t);
      const e = Math.floor((N - t) / 2);
      // corrupt e shares, including the first ones (which a subset search would always try)
      const idx = [0, ...Array.from({ length: e - 1 }, (_, i) => N - 1 - i)];
      const from = shares.map((s, i) => ({ sender: `h${i}`, share: idx.includes(i) ? corrupt(s) : s }));
      const r = await reconstructSelfSeed(from, t, commitment, ctx);
      expect(r.secret).toEqual(secret);
      expect(r.inconsistent.sort()).toEqual(idx.map((i) => `h${i}`).sort());
      // one more corrupted share than decodable: refused, not a wrong secret
      if (e + 1 <= N - t) {
        const more = shares.map((s, i) => ({ sender: `h${i}`, share: i <= e ? corrupt(s) : s }));
        await expect(reconstructSelfSeed(more, t, commitment, ctx)).rejects.toMatchObject({ code: 'SECAGG_ABORTED' });
      }
    }
  });

  it('random partial corruptions (a few bytes of a few shares) are corrected too', async () => {
    const rnd = (bound: number): number => nodePlatform.randomBytes(1)[0]! % bound;
    for (let trial = 0; trial < 40; trial++) {
      const t = 2 + rnd(20);
      const N = Math.min(2 * t - 1, t + rnd(12)); // shareSecret wants t to be a strict majority of N
      const secret = nodePlatform.randomBytes(32);
      const ctx = { session: 's', round: trial, clientId: 'owner' };
      const commitment = selfSeedCommitment(ctx.session, ctx.round, ctx.clientId, secret);
      const shares = await shareSecret(secret, N, t);
      const e = Math.floor((N - t) / 2);
      const bad = new Set<number>();
      while (bad.size < e) bad.add(rnd(N));
      const from = shares.map((s, i) => {
        if (!bad.has(i)) return { sender: `h${i}`, share: s };
        const c = s.slice();
        const pos = rnd(32);
        c[pos] = c[pos]! ^ (1 + rnd(255)); // at least one byte wrong, x-coordinate kept
        return { sender: `h${i}`, share: c };
      });
      const r = await reconstructSelfSeed(from, t, commitment, ctx);
      expect(r.secret, `N = ${N}, t = ${t}`).toEqual(secret);
      // wrong shares are named only when the first t did not verify
      const firstTBad = [...bad].some((i) => i < t);
      expect(r.inconsistent.sort(), `N = ${N}, t = ${t}`).toEqual(firstTBad ? [...bad].map((i) => `h${i}`).sort() : []);
    }
  });

  it('a share that reuses another share\'s x-coordinate cannot push out the honest one', async () => {
    const secret = nodePlatform.randomBytes(32);
    const ctx = { session: 's', round: 1, clientId: 'owner' };
    const commitment = selfSeedCommitment(ctx.session, ctx.round, ctx.clientId, secret);
    const shares = await shareSecret(secret, 19, 13);
    const forged = corrupt(shares[5]!); // same x as h5's share, arrives first
    const from = [{ sender: 'evil', share: forged }, ...shares.map((s, i) => ({ sender: `h${i}`, share: s }))];
    const r = await reconstructSelfSeed(from, 13, commitment, ctx);
    expect(r.secret).toEqual(secret);
    expect(r.inconsistent).toEqual(['evil']);
  });
});
