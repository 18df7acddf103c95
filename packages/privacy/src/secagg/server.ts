import { defaultPlatform } from '../platform/default.js';
import type { PlatformCrypto } from '../platform/types.js';
import { sealedLength } from '../crypto/box.js';
import { toHex } from '../crypto/bytes.js';
import { checkRoundParams, type SecAggRoundParams } from './client.js';
import { SecAggError } from './errors.js';
import { buildNeighbourGraph, componentsAmong, graphSeed, sortIds, type NeighbourGraph } from './graph.js';
import { agreePairwiseSeed } from './kdf.js';
import { verifyAdvertise } from './keys.js';
import type {
  AdvertiseKeysMessage,
  EncryptedShare,
  MaskedInputMessage,
  RosterMessage,
  ShareDeliveryMessage,
  ShareKeysMessage,
  UnmaskRequestMessage,
  UnmaskResponseMessage,
} from './messages.js';
import { applyMasks } from './prg.js';
import { addInto, bytesLEToU32 } from './ring.js';
import { minThreshold, reconstructMaskKey, reconstructSelfSeed, SHARE_LENGTH_32, type SenderShare } from './shamir.js';
import { bad, checkArray, checkBytes, checkHeader, checkId, isObject } from './validate.js';

export interface SecAggServerOptions extends SecAggRoundParams {
  /** Expected cohort (selected clients). When given, other ids are refused. */
  cohort?: readonly string[];
  /** Quantization bound: more than nMax clients are refused (SECAGG_COHORT_TOO_LARGE). */
  nMax?: number;
}

export type ServerStage = 'advertise-keys' | 'share-keys' | 'masked-input' | 'unmask' | 'done' | 'aborted';

/** Who was present at each stage: U1 (advertised) ⊇ U2 (shared) ⊇ U3 (masked) ⊇ U4 (unmasked). */
export interface SecAggStatus {
  stage: ServerStage;
  advertised: string[];
  shared: string[];
  masked: string[];
  unmasked: string[];
  /** Clients that dropped at each stage (present at the previous one, absent from this one). */
  dropped: { advertiseKeys: string[]; shareKeys: string[]; maskedInput: string[]; unmask: string[] };
}

/**
 * A revealed share that disagrees with the verified secret (named by Reed-Solomon decoding).
 * Either `sender` altered it, or `owner` dealt inconsistent shares; a sender named for several
 * owners is the likely culprit.
 */
export interface SecAggMisbehaviour {
  sender: string;
  owner: string;
  kind: 'self-seed' | 'mask-key';
}

const SHARE_CT_LENGTH = sealedLength(2 * SHARE_LENGTH_32);
const ABORT_MESSAGE = 'secure aggregation aborted: not enough clients remained to unmask the sum';

/**
 * The coordinator's side of one SecAgg+ round. Transport-agnostic: the caller feeds every
 * received message to `receive*` and calls `close*` when a stage is complete or its deadline
 * passed. Masked vectors are summed as they arrive (O(m) memory); no individual vector is kept.
 *
 *   receiveAdvertise* -> closeAdvertise(): RosterMessage (to every advertiser)
 *   receiveShareKeys* -> closeShareKeys(): ShareDeliveryMessage[] (one per client in U2)
 *   receiveMaskedInput* -> closeMaskedInput(): UnmaskRequestMessage (to every client in U3)
 *   receiveUnmask* -> finalize(): Promise<Uint32Array> (the sum of the survivors' inputs)
 */
export class SecAggServer {
  readonly session: string;
  readonly round: number;
  readonly k: number;
  readonly t: number;
  readonly vectorLength: number;
  private readonly platform: PlatformCrypto;
  private readonly trustIdentity: SecAggRoundParams['trustIdentity'];
  private readonly cohort: Set<string> | undefined;
  private readonly nMax: number | undefined;
  private stage: ServerStage = 'advertise-keys';
  private advertised = new Map<string, AdvertiseKeysMessage>();
  private pending = new Set<string>();
  private publicKeys = new Set<string>();
  private graph: NeighbourGraph | undefined;
  private shareBundles = new Map<string, EncryptedShare[]>();
  private acc: Uint32Array | undefined;
  private maskedIds = new Set<string>();
  private survivors: string[] = [];
  private droppedIds: string[] = [];
  private unmaskedIds = new Set<string>();
  /** owner -> revealed shares, in arrival order, with who revealed them. */
  private seedShares = new Map<string, SenderShare[]>();
  private keyShares = new Map<string, SenderShare[]>();
  private misbehaving: SecAggMisbehaviour[] = [];

  constructor(opts: SecAggServerOptions) {
    checkRoundParams(opts);
    if (opts.cohort !== undefined) {
      if (!Array.isArray(opts.cohort) || opts.cohort.some((c) => typeof c !== 'string')) throw new TypeError('opts.cohort must be an array of strings');
    }
    if (opts.nMax !== undefined) {
      if (typeof opts.nMax !== 'number' || !Number.isInteger(opts.nMax)) throw new TypeError('opts.nMax must be an integer');
      if (opts.nMax < 1) throw new RangeError('opts.nMax must be >= 1');
      if (opts.cohort && opts.cohort.length > opts.nMax) {
        throw new SecAggError('SECAGG_COHORT_TOO_LARGE', `cohort of ${opts.cohort.length} exceeds the quantization bound nMax = ${opts.nMax}`);
      }
    }
    this.session = opts.session;
    this.round = opts.round;
    this.k = opts.k;
    this.t = opts.t;
    this.vectorLength = opts.vectorLength;
    this.platform = opts.platform ?? defaultPlatform();
    this.trustIdentity = opts.trustIdentity;
    this.cohort = opts.cohort ? new Set(opts.cohort) : undefined;
    this.nMax = opts.nMax;
  }

  get currentStage(): ServerStage {
    return this.stage;
  }

  private expectStage(stage: ServerStage): void {
    if (this.stage === 'aborted') throw new SecAggError('SECAGG_ABORTED', ABORT_MESSAGE);
    if (this.stage !== stage) throw new SecAggError('SECAGG_STAGE', `stage '${stage}' is not open (current: '${this.stage}')`);
  }

  /** Abandons the round: wipes the running sum and all shares. Idempotent. */
  abort(): SecAggError {
    this.stage = 'aborted';
    this.acc?.fill(0);
    this.acc = undefined;
    this.shareBundles.clear();
    this.seedShares.clear();
    this.keyShares.clear();
    return new SecAggError('SECAGG_ABORTED', ABORT_MESSAGE);
  }

  // ---- stage 1 ----------------------------------------------------------------------------

  async receiveAdvertise(msg: AdvertiseKeysMessage): Promise<void> {
    this.expectStage('advertise-keys');
    const m = checkHeader(msg, 'msg', 'advertise-keys', this.session, this.round);
    const id = checkId(m.clientId, 'clientId');
    if (this.cohort && !this.cohort.has(id)) throw bad(`${id} is not in the cohort`);
    if (this.advertised.has(id) || this.pending.has(id)) throw new SecAggError('SECAGG_DUPLICATE', `${id} already advertised keys`);
    for (const f of ['identityKey', 'encryptionKey', 'maskKey', 'selfSeedCommitment'] as const) checkBytes(m[f], f, 32);
    checkBytes(m.signature, 'signature', 64);
    if (this.nMax !== undefined && this.advertised.size + this.pending.size + 1 > this.nMax) {
      throw new SecAggError('SECAGG_COHORT_TOO_LARGE', `more than nMax = ${this.nMax} clients`);
    }
    this.pending.add(id);
    try {
      const entry = msg;
      if (!(await verifyAdvertise(this.platform, entry))) throw new SecAggError('SECAGG_BAD_SIGNATURE', `advertised keys of ${id} do not verify`);
      if (this.trustIdentity && !(await this.trustIdentity(id, entry.identityKey))) {
        throw new SecAggError('SECAGG_BAD_SIGNATURE', `advertised keys of ${id} are signed by an identity key that is not trusted for ${id}`);
      }
      this.expectStage('advertise-keys');
      const ek = 'rk:' + toHex(entry.encryptionKey);
      const mk = 'rk:' + toHex(entry.maskKey);
      const ik = 'id:' + toHex(entry.identityKey);
      if (ek === mk || this.publicKeys.has(ek) || this.publicKeys.has(mk) || this.publicKeys.has(ik)) throw bad('public key reused');
      this.publicKeys.add(ek);
      this.publicKeys.add(mk);
      this.publicKeys.add(ik);
      // Keep a normalized copy (exactly the signed fields) for the roster.
      this.advertised.set(id, {
        stage: 'advertise-keys',
        session: this.session,
        round: this.round,
        clientId: id,
        identityKey: entry.identityKey.slice(),
        encryptionKey: entry.encryptionKey.slice(),
        maskKey: entry.maskKey.slice(),
        selfSeedCommitment: entry.selfSeedCommitment.slice(),
        signature: entry.signature.slice(),
      });
    } finally {
      this.pending.delete(id);
    }
  }

  /** Ends stage 1: the roster U1 goes to every client in it. Aborts when U1 is too small for t. */
  closeAdvertise(): RosterMessage {
    this.expectStage('advertise-keys');
    const ids = sortIds([...this.advertised.keys()]);
    if (ids.length < 2) throw this.abort();
    const graph = buildNeighbourGraph(ids, this.k, graphSeed(this.session, this.round, ids));
    if (graph.degree < this.t) throw this.abort();
    if (this.t < minThreshold(graph.degree)) {
      this.abort();
      throw new SecAggError('SECAGG_WEAK_THRESHOLD', `t = ${this.t} is not a strict majority of the graph's degree ${graph.degree} (n = ${ids.length}, k = ${this.k})`);
    }
    this.graph = graph;
    this.stage = 'share-keys';
    return { stage: 'roster', session: this.session, round: this.round, entries: ids.map((id) => this.advertised.get(id)!) };
  }

  // ---- stage 2 ----------------------------------------------------------------------------

  receiveShareKeys(msg: ShareKeysMessage): void {
    this.expectStage('share-keys');
    const m = checkHeader(msg, 'msg', 'share-keys', this.session, this.round);
    const id = checkId(m.clientId, 'clientId');
    const neighbours = this.graph!.neighbours.get(id);
    if (!neighbours) throw bad(`${id} is not in the roster`);
    if (this.shareBundles.has(id)) throw new SecAggError('SECAGG_DUPLICATE', `${id} already shared keys`);
    const list = checkArray(m.shares, 'shares', 255);
    if (list.length !== neighbours.length) throw bad(`expected ${neighbours.length} share bundles, got ${list.length}`);
    const nb = new Set(neighbours);
    const seen = new Set<string>();
    const bundles: EncryptedShare[] = [];
    for (const s of list) {
      if (!isObject(s)) throw bad('share bundle');
      const to = checkId(s.peer, 'share bundle peer');
      if (!nb.has(to) || seen.has(to)) throw bad(`share bundle for ${to}, who is not a (distinct) neighbour of ${id}`);
      seen.add(to);
      bundles.push({ peer: to, ciphertext: checkBytes(s.ciphertext, 'share bundle ciphertext', SHARE_CT_LENGTH).slice() });
    }
    this.shareBundles.set(id, bundles);
  }

  /** Ends stage 2: routes each bundle to its receiver (only between clients in U2). */
  closeShareKeys(): ShareDeliveryMessage[] {
    this.expectStage('share-keys');
    const u2 = new Set(this.shareBundles.keys());
    if (u2.size < this.t) throw this.abort();
    this.u2 = u2;
    const inbox = new Map<string, EncryptedShare[]>();
    for (const id of u2) inbox.set(id, []);
    for (const [from, bundles] of this.shareBundles) {
      for (const b of bundles) inbox.get(b.peer)?.push({ peer: from, ciphertext: b.ciphertext });
    }
    this.shareBundles.clear();
    this.acc = new Uint32Array(this.vectorLength);
    this.stage = 'masked-input';
    return sortIds([...u2]).map((id) => ({ stage: 'share-delivery', session: this.session, round: this.round, clientId: id, shares: inbox.get(id)! }));
  }

  private u2 = new Set<string>();

  // ---- stage 3 ----------------------------------------------------------------------------

  /** Adds the masked vector to the running sum right away; the vector is not retained. */
  receiveMaskedInput(msg: MaskedInputMessage): void {
    this.expectStage('masked-input');
    const m = checkHeader(msg, 'msg', 'masked-input', this.session, this.round);
    const id = checkId(m.clientId, 'clientId');
    if (!this.u2.has(id)) throw bad(`${id} did not share keys`);
    if (this.maskedIds.has(id)) throw new SecAggError('SECAGG_DUPLICATE', `${id} already sent its masked input`);
    const bytes = checkBytes(m.masked, 'masked', 4 * this.vectorLength);
    addInto(this.acc!, bytesLEToU32(bytes));
    this.maskedIds.add(id);
  }

  /** Ends stage 3: asks U3 for self-seed shares of U3 and mask-key shares of U2 \ U3. */
  closeMaskedInput(): UnmaskRequestMessage {
    this.expectStage('masked-input');
    if (this.maskedIds.size < this.t) throw this.abort();
    // Refuse before any share is revealed if the survivors' graph fell apart: the masked inputs
    // of each part would unmask to that part's sum (Bell et al. 2020, the connectivity condition).
    const parts = componentsAmong(this.graph!, this.maskedIds);
    if (parts.length > 1) {
      this.abort();
      throw new SecAggError(
        'SECAGG_SURVIVORS_SPLIT',
        `the survivors' neighbour graph has ${parts.length} parts (sizes ${parts.map((p) => p.length).join(', ')}): unmasking would reveal each part's sum`,
      );
    }
    this.survivors = sortIds([...this.maskedIds]);
    this.droppedIds = sortIds([...this.u2].filter((id) => !this.maskedIds.has(id)));
    this.stage = 'unmask';
    return { stage: 'unmask-request', session: this.session, round: this.round, survivors: [...this.survivors], dropped: [...this.droppedIds] };
  }

  // ---- stage 4 ----------------------------------------------------------------------------

  receiveUnmask(msg: UnmaskResponseMessage): void {
    this.expectStage('unmask');
    const m = checkHeader(msg, 'msg', 'unmask', this.session, this.round);
    const id = checkId(m.clientId, 'clientId');
    if (!this.maskedIds.has(id)) throw bad(`${id} is not a survivor`);
    if (this.unmaskedIds.has(id)) throw new SecAggError('SECAGG_DUPLICATE', `${id} already answered the unmask request`);
    const neighbours = new Set(this.graph!.neighbours.get(id)!);
    const dropped = new Set(this.droppedIds);
    const parse = (v: unknown, what: string, allowed: (owner: string) => boolean): { owner: string; share: Uint8Array }[] => {
      const out: { owner: string; share: Uint8Array }[] = [];
      const seen = new Set<string>();
      for (const s of checkArray(v, what, 255)) {
        if (!isObject(s)) throw bad(what);
        const owner = checkId(s.owner, `${what} owner`);
        if (!neighbours.has(owner) || !allowed(owner) || seen.has(owner)) throw bad(`${what}: unexpected share of ${owner}`);
        seen.add(owner);
        out.push({ owner, share: checkBytes(s.share, `${what} share`, SHARE_LENGTH_32).slice() });
      }
      return out;
    };
    const seeds = parse(m.selfSeedShares, 'selfSeedShares', (o) => this.maskedIds.has(o));
    const keys = parse(m.maskKeyShares, 'maskKeyShares', (o) => dropped.has(o));
    for (const { owner, share } of seeds) push(this.seedShares, owner, { sender: id, share });
    for (const { owner, share } of keys) push(this.keyShares, owner, { sender: id, share });
    this.unmaskedIds.add(id);
  }

  /**
   * Reconstructs the survivors' self-mask seeds and the dropped clients' mask keys, removes all
   * masks and returns sum_{u in U3} x_u in Z_2^32. Throws SECAGG_ABORTED (and wipes the sum) when
   * some secret has fewer than t verified shares.
   */
  async finalize(): Promise<Uint32Array> {
    this.expectStage('unmask');
    this.stage = 'done';
    try {
      const graph = this.graph!;
      const survivors = this.survivors;
      const items: { seed: Uint8Array; sign: 1 | -1 }[] = [];
      // Check counts first: abort before any reconstruction if anything is short.
      const droppedWithSurvivingNeighbours = this.droppedIds.filter((d) => graph.neighbours.get(d)!.some((v) => this.maskedIds.has(v)));
      for (const u of survivors) if ((this.seedShares.get(u)?.length ?? 0) < this.t) throw this.abort();
      for (const d of droppedWithSurvivingNeighbours) if ((this.keyShares.get(d)?.length ?? 0) < this.t) throw this.abort();
      for (const u of survivors) {
        const e = this.advertised.get(u)!;
        const { secret: seed, inconsistent } = await reconstructSelfSeed(this.seedShares.get(u)!, this.t, e.selfSeedCommitment, {
          session: this.session,
          round: this.round,
          clientId: u,
        });
        for (const sender of inconsistent) this.misbehaving.push({ sender, owner: u, kind: 'self-seed' });
        items.push({ seed, sign: -1 });
      }
      for (const d of droppedWithSurvivingNeighbours) {
        const e = this.advertised.get(d)!;
        const { secret: sk, inconsistent } = await reconstructMaskKey(this.keyShares.get(d)!, this.t, e.maskKey, this.platform);
        for (const sender of inconsistent) this.misbehaving.push({ sender, owner: d, kind: 'mask-key' });
        const pk = e.maskKey; // the public key of sk: checked by reconstructMaskKey
        for (const v of graph.neighbours.get(d)!) {
          if (!this.maskedIds.has(v)) continue;
          // v added +PRG(s_vd) if v < d, else -PRG(s_vd): remove it.
          const seed = await agreePairwiseSeed(this.platform, this.session, this.round, sk, pk, this.advertised.get(v)!.maskKey);
          items.push({ seed, sign: v < d ? -1 : 1 });
        }
        sk.fill(0);
      }
      this.seedShares.clear();
      this.keyShares.clear();
      const acc = this.acc!;
      await applyMasks(this.platform, acc, items);
      for (const it of items) it.seed.fill(0);
      this.acc = undefined;
      return acc;
    } catch (e) {
      const err = e instanceof SecAggError && e.code === 'SECAGG_ABORTED' ? e : this.abort();
      this.abort();
      throw err;
    }
  }

  /** Number of keystream bytes `finalize` will expand (for benchmarks): 4m per mask removed. */
  get keystreamBytes(): number {
    if (!this.graph) return 0;
    let streams = this.maskedIds.size;
    for (const d of this.droppedIds) streams += this.graph.neighbours.get(d)!.filter((v) => this.maskedIds.has(v)).length;
    return streams * 4 * this.vectorLength;
  }

  status(): SecAggStatus {
    const advertised = sortIds([...this.advertised.keys()]);
    const shared = sortIds([...this.u2]);
    const masked = sortIds([...this.maskedIds]);
    const unmasked = sortIds([...this.unmaskedIds]);
    const minus = (a: string[], b: string[]): string[] => a.filter((x) => !b.includes(x));
    return {
      stage: this.stage,
      advertised,
      shared,
      masked,
      unmasked,
      dropped: {
        advertiseKeys: this.cohort ? minus(sortIds([...this.cohort]), advertised) : [],
        shareKeys: this.stage === 'share-keys' ? [] : minus(advertised, shared),
        maskedInput: this.stage === 'masked-input' || this.stage === 'share-keys' ? [] : minus(shared, masked),
        unmask: this.stage === 'done' || this.stage === 'unmask' ? minus(masked, unmasked) : [],
      },
    };
  }

  /**
   * Revealed shares that Reed-Solomon decoding found inconsistent with the verified secrets
   * (filled by finalize, also when it aborts later). For the audit log.
   */
  get misbehaviour(): readonly SecAggMisbehaviour[] {
    return this.misbehaving;
  }

  /** The neighbour graph (after closeAdvertise). */
  get neighbourGraph(): NeighbourGraph | undefined {
    return this.graph;
  }
}

function push<T>(map: Map<string, T[]>, key: string, v: T): void {
  const list = map.get(key);
  if (list) list.push(v);
  else map.set(key, [v]);
}
