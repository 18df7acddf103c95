import { equalBytes, toHex } from '../crypto/bytes.js';
import { deriveBoxKey, openBound, sealBound } from '../crypto/box.js';
import { assertIdentity, type IdentityKeyPair } from '../crypto/sign.js';
import { defaultPlatform } from '../platform/default.js';
import type { PlatformCrypto } from '../platform/types.js';
import { SecAggError } from './errors.js';
import { buildNeighbourGraph, componentsAmong, graphSeed, sortIds, type NeighbourGraph } from './graph.js';
import { agreePairwiseSeed, assertRound, assertSession, selfSeedCommitment } from './kdf.js';
import { generateRoundKeys, shareContext, signAdvertise, verifyAdvertise, type RoundKeys } from './keys.js';
import type {
  AdvertiseKeysMessage,
  EncryptedShare,
  MaskedInputMessage,
  RevealedShare,
  RosterMessage,
  ShareDeliveryMessage,
  ShareKeysMessage,
  UnmaskRequestMessage,
  UnmaskResponseMessage,
} from './messages.js';
import { applyMasks, assertVectorLength } from './prg.js';
import { u32ToBytesLE } from './ring.js';
import { assertThreshold, minThreshold, shareSecret, SHARE_LENGTH_32 } from './shamir.js';
import { bad, checkArray, checkBytes, checkHeader, checkId, checkIdList, isObject } from './validate.js';

export interface SecAggRoundParams {
  /** Session id (federation / coordinator run), bound into every hash, signature and AEAD. */
  session: string;
  /** Round number, bound likewise. */
  round: number;
  /** Requested neighbourhood size (graph degree); the full graph is used when n <= k + 1. */
  k: number;
  /** Shamir threshold; fixed for the round (>= floor(k/2)+1, default ceil(2k/3)). */
  t: number;
  /** Length m of the Uint32Array being aggregated. */
  vectorLength: number;
  platform?: PlatformCrypto;
  /**
   * Optional identity check for roster entries (PKI, pinning): return false to reject the
   * (clientId, identityKey) pair. Without it identity keys are taken from the roster as given.
   */
  trustIdentity?: (clientId: string, identityKey: Uint8Array) => boolean | Promise<boolean>;
}

export interface SecAggClientOptions extends SecAggRoundParams {
  clientId: string;
  /** Long-term Ed25519 identity key pair (tweetnacl layout: 32-byte pk, 64-byte sk). */
  identity: IdentityKeyPair;
}

export function checkRoundParams(o: unknown): asserts o is SecAggRoundParams {
  if (typeof o !== 'object' || o === null) throw new TypeError('opts must be an object');
  const p = o as SecAggRoundParams;
  assertSession('opts.session', p.session);
  assertRound('opts.round', p.round);
  if (typeof p.k !== 'number' || !Number.isInteger(p.k)) throw new TypeError('opts.k must be an integer');
  if (p.k < 2 || p.k > 255) throw new RangeError(`opts.k must be in [2, 255], got ${p.k}`);
  assertThreshold(p.k, p.t);
  assertVectorLength('opts.vectorLength', p.vectorLength);
  if (p.trustIdentity !== undefined && typeof p.trustIdentity !== 'function') throw new TypeError('opts.trustIdentity must be a function');
}

type ClientStage = 'new' | 'advertised' | 'shared' | 'masked' | 'done' | 'failed';

interface Peer {
  entry: AdvertiseKeysMessage;
  /** nacl.box precomputed key with this peer (computed once at shareKeys, reused to open). */
  boxKey?: Uint8Array;
  /** Decrypted shares this client holds for the peer (set when the peer's bundle arrived). */
  maskKeyShare?: Uint8Array;
  selfSeedShare?: Uint8Array;
}

/**
 * One client's side of one SecAgg+ round:
 * advertiseKeys() -> shareKeys(roster) -> maskedInput(delivery, vector) -> unmask(request).
 * Every method may be called once, in order; any failure ends the round for this client.
 */
export class SecAggClient {
  readonly session: string;
  readonly round: number;
  readonly clientId: string;
  readonly k: number;
  readonly t: number;
  readonly vectorLength: number;
  private readonly platform: PlatformCrypto;
  private readonly identity: IdentityKeyPair;
  private readonly trustIdentity: SecAggRoundParams['trustIdentity'];
  private stage: ClientStage = 'new';
  private keys: RoundKeys | undefined;
  private advertised: AdvertiseKeysMessage | undefined;
  private graph: NeighbourGraph | undefined;
  private rosterIds = new Set<string>();
  private peers = new Map<string, Peer>();

  constructor(opts: SecAggClientOptions) {
    checkRoundParams(opts);
    if (typeof opts.clientId !== 'string') throw new TypeError('opts.clientId must be a string');
    if (opts.clientId.length < 1 || opts.clientId.length > 128) throw new RangeError('opts.clientId must have 1..128 characters');
    assertIdentity('opts.identity', opts.identity);
    this.session = opts.session;
    this.round = opts.round;
    this.clientId = opts.clientId;
    this.k = opts.k;
    this.t = opts.t;
    this.vectorLength = opts.vectorLength;
    this.platform = opts.platform ?? defaultPlatform();
    this.identity = opts.identity;
    this.trustIdentity = opts.trustIdentity;
  }

  private expect(expected: ClientStage): void {
    if (this.stage !== expected) {
      throw new SecAggError('SECAGG_STAGE', `client is in stage '${this.stage}', cannot run this step (needs '${expected}')`);
    }
  }

  /**
   * Runs a step after its message header passed (a message rejected by the header check, e.g. a
   * replay, leaves the client unchanged). Any later error ends the round and wipes the secrets.
   */
  private async step<T>(next: ClientStage, f: () => Promise<T>): Promise<T> {
    this.stage = next;
    try {
      return await f();
    } catch (e) {
      this.fail();
      throw e;
    }
  }

  private fail(): void {
    this.stage = 'failed';
    this.wipe();
  }

  private wipe(): void {
    for (const peer of this.peers.values()) peer.boxKey?.fill(0);
    if (this.keys) {
      this.keys.mask.secretKey.fill(0);
      this.keys.encryption.secretKey.fill(0);
      this.keys.selfSeed.fill(0);
    }
  }

  /** Stage 1: fresh X25519 key pairs and self-mask seed commitment, signed with the identity key. */
  async advertiseKeys(): Promise<AdvertiseKeysMessage> {
    this.expect('new');
    return this.step('advertised', async () => {
      const keys = generateRoundKeys(this.platform);
      this.keys = keys;
      const body = {
        session: this.session,
        round: this.round,
        clientId: this.clientId,
        encryptionKey: keys.encryption.publicKey,
        maskKey: keys.mask.publicKey,
        selfSeedCommitment: selfSeedCommitment(this.session, this.round, this.clientId, keys.selfSeed),
      };
      const signature = await signAdvertise(this.platform, this.identity, body);
      const msg: AdvertiseKeysMessage = { stage: 'advertise-keys', ...body, identityKey: this.identity.publicKey, signature };
      this.advertised = msg;
      return msg;
    });
  }

  /**
   * Stage 2: verify the roster (every signature, own entry unchanged, no reused keys),
   * compute the neighbour graph, Shamir-share the mask secret key and self-mask seed (t of k) and
   * encrypt one bundle to each neighbour.
   */
  async shareKeys(roster: RosterMessage): Promise<ShareKeysMessage> {
    this.expect('advertised');
    const r = checkHeader(roster, 'roster', 'roster', this.session, this.round);
    return this.step('shared', async () => {
      const entries = checkArray(r.entries, 'roster.entries', 255 * 255);
      const byId = new Map<string, AdvertiseKeysMessage>();
      const keysSeen = new Set<string>();
      for (const e of entries) {
        if (!isObject(e)) throw bad('roster entry');
        const id = checkId(e.clientId, 'roster entry clientId');
        if (e.stage !== 'advertise-keys') throw bad('roster entry stage');
        if (e.session !== this.session || e.round !== this.round) {
          throw new SecAggError('SECAGG_REPLAY', 'roster entry bound to another session or round');
        }
        for (const f of ['identityKey', 'encryptionKey', 'maskKey', 'selfSeedCommitment'] as const) checkBytes(e[f], `roster entry ${f}`, 32);
        checkBytes(e.signature, 'roster entry signature', 64);
        if (byId.has(id)) throw bad(`roster lists ${id} twice`);
        for (const f of ['identityKey', 'encryptionKey', 'maskKey'] as const) {
          // identity keys in their own namespace; round keys must differ from every other round key
          const hex = (f === 'identityKey' ? 'id:' : 'rk:') + toHex(e[f] as Uint8Array);
          if (keysSeen.has(hex)) throw bad('roster reuses a public key');
          keysSeen.add(hex);
        }
        byId.set(id, e as unknown as AdvertiseKeysMessage);
      }
      const own = byId.get(this.clientId);
      const mine = this.advertised!;
      if (
        !own ||
        !equalBytes(own.encryptionKey, mine.encryptionKey) ||
        !equalBytes(own.maskKey, mine.maskKey) ||
        !equalBytes(own.selfSeedCommitment, mine.selfSeedCommitment) ||
        !equalBytes(own.identityKey, mine.identityKey)
      ) {
        throw new SecAggError('SECAGG_MALICIOUS_REQUEST', 'the roster does not contain this client as advertised');
      }
      const ids = sortIds([...byId.keys()]);
      const graph = buildNeighbourGraph(ids, this.k, graphSeed(this.session, this.round, ids));
      if (graph.degree < this.t) {
        throw new SecAggError('SECAGG_ABORTED', 'secure aggregation aborted: too few clients for the threshold');
      }
      // t was fixed for the requested k; odd n and k give degree k + 1, where it may no longer be
      // a strict majority (the coordinator could then collect both kinds of shares of a peer).
      if (this.t < minThreshold(graph.degree)) {
        throw new SecAggError('SECAGG_WEAK_THRESHOLD', `t = ${this.t} is not a strict majority of this round's graph degree ${graph.degree}`);
      }
      this.graph = graph;
      this.rosterIds = new Set(ids);
      const neighbours = graph.neighbours.get(this.clientId)!;
      // Verify every entry (all ids shape the graph; native Ed25519 makes this ~0.1 ms each).
      const checks = await Promise.all(
        ids.map(async (id) => {
          const e = byId.get(id)!;
          if (!(await verifyAdvertise(this.platform, e))) return false;
          if (this.trustIdentity && !(await this.trustIdentity(id, e.identityKey))) return false;
          return true;
        }),
      );
      const badIdx = checks.indexOf(false);
      if (badIdx >= 0) throw new SecAggError('SECAGG_BAD_SIGNATURE', `roster entry of ${ids[badIdx]} does not verify`);
      const keys = this.keys!;
      const boxKeys = await Promise.all(
        neighbours.map((id) => deriveBoxKey(this.platform, keys.encryption.secretKey, keys.encryption.publicKey, byId.get(id)!.encryptionKey)),
      );
      neighbours.forEach((id, i) => {
        const boxKey = boxKeys[i];
        if (!boxKey) throw new SecAggError('SECAGG_ZERO_DH', `key agreement with ${id} produced an all-zero output`);
        this.peers.set(id, { entry: byId.get(id)!, boxKey });
      });

      const [skShares, seedShares] = await Promise.all([
        shareSecret(keys.mask.secretKey, neighbours.length, this.t),
        shareSecret(keys.selfSeed, neighbours.length, this.t),
      ]);
      const shares: EncryptedShare[] = neighbours.map((id, i) => {
        const plaintext = new Uint8Array(2 * SHARE_LENGTH_32);
        plaintext.set(skShares[i]!, 0);
        plaintext.set(seedShares[i]!, SHARE_LENGTH_32);
        const ct = sealBound(this.platform, plaintext, shareContext(this.session, this.round, this.clientId, id), this.peers.get(id)!.boxKey!);
        plaintext.fill(0);
        return { peer: id, ciphertext: ct };
      });
      for (const s of [...skShares, ...seedShares]) s.fill(0);
      return { stage: 'share-keys', session: this.session, round: this.round, clientId: this.clientId, shares };
    });
  }

  /**
   * Stage 3: decrypt the bundles of the neighbours that shared keys (U2), then mask the vector:
   * y = x + PRG(b) + sum_{v in U2 neighbours} sign(u, v) PRG(s_uv) in Z_2^32, sign = +1 if u < v.
   * `vector` is not modified. The round's mask secrets are wiped afterwards.
   */
  async maskedInput(delivery: ShareDeliveryMessage, vector: Uint32Array): Promise<MaskedInputMessage> {
    if (!(vector instanceof Uint32Array)) throw new TypeError('vector must be a Uint32Array');
    if (vector.length !== this.vectorLength) throw new RangeError(`vector must have length ${this.vectorLength}, got ${vector.length}`);
    this.expect('shared');
    const d = checkHeader(delivery, 'delivery', 'share-delivery', this.session, this.round);
    if (d.clientId !== this.clientId) throw bad('delivery addressed to another client');
    return this.step('masked', async () => {
      const list = checkArray(d.shares, 'delivery.shares', 255);
      const keys = this.keys!;
      const senders: string[] = [];
      for (const s of list) {
        if (!isObject(s)) throw bad('delivery share');
        const from = checkId(s.peer, 'delivery share peer');
        const ct = checkBytes(s.ciphertext, 'delivery share ciphertext');
        const peer = this.peers.get(from);
        if (!peer) throw bad(`share from ${from}, who is not a neighbour`);
        if (peer.maskKeyShare) throw bad(`two shares from ${from}`);
        const opened = openBound(ct, shareContext(this.session, this.round, from, this.clientId), peer.boxKey!);
        if (!opened.ok) {
          if (opened.reason === 'context') throw new SecAggError('SECAGG_REPLAY', `share from ${from} is bound to another context`);
          throw new SecAggError('SECAGG_DECRYPT_FAILED', `share from ${from} does not decrypt`);
        }
        if (opened.plaintext.length !== 2 * SHARE_LENGTH_32) throw bad(`share from ${from} has the wrong size`);
        peer.maskKeyShare = opened.plaintext.slice(0, SHARE_LENGTH_32);
        peer.selfSeedShare = opened.plaintext.slice(SHARE_LENGTH_32);
        opened.plaintext.fill(0);
        senders.push(from);
      }
      if (senders.length < this.t) {
        throw new SecAggError('SECAGG_ABORTED', 'secure aggregation aborted: too few neighbours shared keys');
      }
      for (const peer of this.peers.values()) peer.boxKey?.fill(0);
      const seeds = await Promise.all(
        senders.map((v) => agreePairwiseSeed(this.platform, this.session, this.round, keys.mask.secretKey, keys.mask.publicKey, this.peers.get(v)!.entry.maskKey)),
      );
      const items: { seed: Uint8Array; sign: 1 | -1 }[] = [{ seed: keys.selfSeed, sign: 1 }];
      senders.forEach((v, i) => items.push({ seed: seeds[i]!, sign: this.clientId < v ? 1 : -1 }));
      const y = vector.slice();
      await applyMasks(this.platform, y, items);
      for (const it of items) it.seed.fill(0);
      this.wipe();
      return { stage: 'masked-input', session: this.session, round: this.round, clientId: this.clientId, masked: u32ToBytesLE(y) };
    });
  }

  /**
   * Stage 4: reveal, for each neighbour whose shares this client holds, the self-seed share if it
   * survived or the mask-key share if it dropped; never both, and only once per round. Refuses a
   * request naming a client in both lists, naming this client as dropped, listing fewer than t
   * survivors, or bound to another session/round (SECAGG_MALICIOUS_REQUEST / SECAGG_REPLAY).
   */
  async unmask(request: UnmaskRequestMessage): Promise<UnmaskResponseMessage> {
    this.expect('masked');
    const r = checkHeader(request, 'request', 'unmask-request', this.session, this.round);
    return this.step('done', async () => {
      const survivors = checkIdList(r.survivors, 'request.survivors', 65_536);
      const dropped = checkIdList(r.dropped, 'request.dropped', 65_536);
      const surv = new Set(survivors);
      for (const id of dropped) {
        if (surv.has(id)) throw new SecAggError('SECAGG_MALICIOUS_REQUEST', `unmask request lists ${id} as both dropped and surviving`);
      }
      if (survivors.length < this.t) throw new SecAggError('SECAGG_MALICIOUS_REQUEST', `unmask request lists fewer than t = ${this.t} survivors`);
      if (!surv.has(this.clientId)) throw new SecAggError('SECAGG_MALICIOUS_REQUEST', 'unmask request does not list this client as a survivor');
      for (const id of [...survivors, ...dropped]) {
        if (!this.rosterIds.has(id)) throw new SecAggError('SECAGG_MALICIOUS_REQUEST', `unmask request names ${id}, who is not in the roster`);
      }
      // The survivors must stay connected in the graph, else unmasking reveals each part's sum.
      if (componentsAmong(this.graph!, survivors).length > 1) {
        throw new SecAggError('SECAGG_MALICIOUS_REQUEST', "unmask request: the survivors' neighbour graph is split (unmasking would reveal a partial sum)");
      }
      const drop = new Set(dropped);
      const selfSeedShares: RevealedShare[] = [];
      const maskKeyShares: RevealedShare[] = [];
      for (const [id, peer] of this.peers) {
        if (!peer.maskKeyShare || !peer.selfSeedShare) continue;
        if (surv.has(id)) selfSeedShares.push({ owner: id, share: peer.selfSeedShare });
        else if (drop.has(id)) maskKeyShares.push({ owner: id, share: peer.maskKeyShare });
      }
      this.peers.clear();
      return { stage: 'unmask', session: this.session, round: this.round, clientId: this.clientId, selfSeedShares, maskKeyShares };
    });
  }

  /** The neighbour graph computed at shareKeys (for diagnostics and tests). */
  get neighbourGraph(): NeighbourGraph | undefined {
    return this.graph;
  }
}
