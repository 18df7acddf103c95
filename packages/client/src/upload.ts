/**
 * The client half of chunked, sealed training uploads (protocol/v1.md 5.4a). Isomorphic:
 * crypto goes through the PlatformCrypto adapter, randomness through ClientPlatform.
 *
 * One attempt: `round:upload`, then every chunk in order, each acked before the next
 * (backpressure). A connection lost mid-upload restarts the upload from the beginning on
 * the next connection (a fresh upload id, so chunks of the lost attempt never count);
 * if the lost attempt had already delivered its last chunk, the coordinator answers
 * DUPLICATE_UPDATE and the update counts once.
 */
import type { Socket } from 'socket.io-client';
import { FlockError, UPLOAD_EVENTS, ackSchema, chunkCount, chunkPlainLength, type UpdateMeta, type Welcome } from '@flock/protocol';
import {
  SEAL_SUITES,
  SEAL_SUITE_AEAD,
  SEAL_SUITE_LEGACY,
  chooseSealSuite,
  clientSealKeyRecord,
  generateBoxKeyPair,
  isAllZero,
  sealChunk,
  sealChunkAead,
  sealSharedKey,
  uploadKeyFromShared,
  verifyCoordinatorSealKey,
  verifyCoordinatorSuites,
  x25519Shared,
  type BoxKeyPair,
  type IdentityKeyPair,
  type PlatformCrypto,
  type SealSuite,
  type SealedUploadContext,
} from '@flock/privacy';
import type { ClientPlatform } from './platform.js';

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** What a client seals one upload with (protocol/v1.md 5.4a). */
export interface SealKeys {
  /** The key record of `round:upload` (128 bytes). */
  record: Uint8Array;
  suite: SealSuite;
  /** Legacy suite: the nacl.box key. AEAD suite: the X25519 output (the per-upload key is derived from it). */
  shared: Uint8Array;
  boxPublicKey: Uint8Array;
  sealPublicKey: Uint8Array;
}

/** The client's sealing state for one session (one FlockClient). */
export class UploadSealer {
  private readonly boxKey: BoxKeyPair;
  private readonly suites: readonly SealSuite[];
  private cache: { welcome: Welcome; keys: SealKeys } | undefined;

  /**
   * @param suites the sealing suites this client accepts, best first (default: the AES-256-GCM
   *   suite, then the deprecated nacl.box suite for coordinators that offer no other).
   */
  constructor(
    private readonly crypto: PlatformCrypto,
    private readonly identity: () => IdentityKeyPair,
    private readonly pinnedCoordinatorKey: string | undefined,
    suites: readonly SealSuite[] = SEAL_SUITES,
  ) {
    if (!Array.isArray(suites)) throw new TypeError('suites must be an array of sealing suite names');
    if (suites.length === 0 || !suites.every((s) => SEAL_SUITES.includes(s))) throw new RangeError(`suites must name at least one of: ${SEAL_SUITES.join(', ')}`);
    this.suites = [...suites];
    // A fresh X25519 key per session, bound to the long-term identity by a signature.
    this.boxKey = generateBoxKeyPair(crypto);
  }

  /**
   * The key record, suite and shared secret for the coordinator of this welcome; undefined
   * when the coordinator announces no sealing key (an older coordinator). Throws SEAL_INVALID if
   * the announcement (or its suite list) does not verify, or is missing although the coordinator
   * key is pinned; SEAL_INVALID (reason unsupported-suite) when no offered suite is one this client accepts.
   */
  async keysFor(welcome: Welcome): Promise<SealKeys | undefined> {
    if (this.cache?.welcome === welcome) return this.cache.keys;
    const signer = this.pinnedCoordinatorKey ?? welcome.coordinatorKey;
    const ann = welcome.sealKey;
    if (!ann) {
      if (this.pinnedCoordinatorKey || welcome.uploads?.sealRequired) throw new FlockError('SEAL_INVALID', 'the coordinator announced no sealing key; refusing to send the update in the clear', { reason: 'no-seal-key' });
      return undefined;
    }
    if (!signer) throw new FlockError('SEAL_INVALID', 'the sealing key cannot be verified: no coordinator key is known', { reason: 'no-coordinator-key' });
    const pk = await verifyCoordinatorSealKey(this.crypto, signer, welcome.federationId, ann);
    if (!pk) throw new FlockError('SEAL_INVALID', 'the coordinator sealing key is not signed by the coordinator key', { reason: 'announcement' });
    // A suite list counts only with a valid signature over it: an edited list (a suite removed
    // to force a weaker or slower one) is refused, never silently used.
    if (ann.suites !== undefined || ann.suitesSignature !== undefined) {
      const ok = ann.suites !== undefined && ann.suitesSignature !== undefined && (await verifyCoordinatorSuites(this.crypto, signer, welcome.federationId, pk, ann.suites, ann.suitesSignature));
      if (!ok) throw new FlockError('SEAL_INVALID', 'the coordinator\'s sealing suite list is not signed by the coordinator key', { reason: 'announcement' });
    }
    const offered = ann.suites ?? [SEAL_SUITE_LEGACY];
    const suite = chooseSealSuite(offered, this.suites);
    if (!suite) throw new FlockError('SEAL_INVALID', `the coordinator offers sealing suites ${offered.join(', ')}; this client accepts ${this.suites.join(', ')}`, { reason: 'unsupported-suite', offered, accepted: [...this.suites] });
    let shared: Uint8Array | undefined;
    if (suite === SEAL_SUITE_AEAD) {
      const s = await x25519Shared(this.crypto, this.boxKey.secretKey, this.boxKey.publicKey, pk);
      shared = isAllZero(s) ? undefined : s;
    } else {
      shared = await sealSharedKey(this.crypto, this.boxKey, pk);
    }
    if (!shared) throw new FlockError('SEAL_INVALID', 'the coordinator sealing key is a low-order point', { reason: 'announcement' });
    const record = await clientSealKeyRecord(this.crypto, this.identity(), this.boxKey, welcome.federationId, welcome.clientId);
    const keys: SealKeys = { record, suite, shared, boxPublicKey: this.boxKey.publicKey, sealPublicKey: pk };
    this.cache = { welcome, keys };
    return keys;
  }
}

/** Seals chunk `index` of one upload with the chosen suite (`uploadKey`: the AEAD suite's per-upload key). */
async function sealWith(crypto: PlatformCrypto, keys: SealKeys, uploadKey: Uint8Array | undefined, ctx: SealedUploadContext, index: number, plain: Uint8Array): Promise<Uint8Array> {
  return uploadKey ? sealChunkAead(crypto, uploadKey, ctx, index, plain) : sealChunk(crypto, keys.shared, ctx, index, plain);
}

export interface UploadOptions {
  socket: Socket;
  /** The welcome of the current connection (read again after a reconnect). */
  welcome: () => Welcome | undefined;
  sealer: UploadSealer;
  crypto: PlatformCrypto;
  platform: ClientPlatform;
  meta: UpdateMeta;
  /** The plaintext update: little-endian float32, one per parameter. */
  bytes: Uint8Array;
  /** The client's own chunk bound; the coordinator's (welcome.uploads.chunkBytes) caps it. */
  chunkBytes?: number;
  /** Absolute time (platform.now()) after which the upload gives up. */
  deadline: number;
  /** True once the upload should give up (the client is stopping); checked before every retry. */
  aborted?: () => boolean;
  /** Called before each chunk is sealed and sent (tests, progress). */
  onChunk?: (index: number, count: number) => void;
}

/** Unacknowledged chunks a client keeps in flight (the coordinator refuses a third with 'backpressure'). */
const UPLOAD_WINDOW = 2;

const RETRYABLE_REASONS = new Set(['no-upload']);

function isDisconnect(err: unknown): boolean {
  return err instanceof Error && !(err instanceof FlockError) && /disconnected/i.test(err.message);
}

/** Waits until the socket is connected and a welcome for this connection arrived, or the deadline. */
async function connected(socket: Socket, welcome: () => Welcome | undefined, platform: ClientPlatform, deadline: number, aborted: () => boolean): Promise<void> {
  while (!(socket.connected && welcome())) {
    if (aborted()) throw new FlockError('LATE_UPDATE', 'the client stopped before the update was sent');
    if (platform.now() >= deadline) throw new FlockError('LATE_UPDATE', 'the connection did not come back before the round deadline');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function emit(socket: Socket, deadline: number, platform: ClientPlatform, event: string, ...args: unknown[]): Promise<void> {
  const timeout = Math.max(1, deadline - platform.now());
  const raw: unknown = await socket.timeout(timeout).emitWithAck(event, ...args);
  const ack = ackSchema.safeParse(raw);
  if (!ack.success) throw new FlockError('BAD_MESSAGE', `invalid ack for ${event}`);
  if (!ack.data.ok) throw FlockError.fromEnvelope(ack.data.error);
}

/** Sends one training update as a chunked (and, when the coordinator announces a key, sealed) upload. */
export async function uploadUpdate(o: UploadOptions): Promise<void> {
  const { socket, platform } = o;
  let finalSent = false;
  const aborted = o.aborted ?? (() => false);
  for (let attempt = 0; ; attempt++) {
    await connected(socket, o.welcome, platform, o.deadline, aborted);
    const welcome = o.welcome()!;
    try {
      const keys = await o.sealer.keysFor(welcome);
      const bound = welcome.uploads?.chunkBytes ?? o.chunkBytes ?? 256 * 1024;
      const chunkBytes = Math.max(1024, Math.min(bound, o.chunkBytes ?? bound));
      const uploadId = hex(platform.randomBytes(16));
      const byteLength = o.bytes.byteLength;
      // The legacy suite is named only to coordinators that list suites (an older one knows no `sealSuite`).
      const named = keys && (keys.suite !== SEAL_SUITE_LEGACY || welcome.sealKey?.suites) ? { sealSuite: keys.suite } : {};
      const begin = { roundId: o.meta.roundId, uploadId, modelVersion: o.meta.modelVersion, numExamples: o.meta.numExamples, ...(o.meta.metrics ? { metrics: o.meta.metrics } : {}), byteLength, chunkBytes, ...(keys ? { seal: keys.record, ...named } : {}) };
      const ctx: SealedUploadContext = { federationId: welcome.federationId, roundId: o.meta.roundId, clientId: welcome.clientId, modelVersion: o.meta.modelVersion, numExamples: o.meta.numExamples, uploadId, byteLength, chunkBytes };
      // AEAD suite: one key per upload (HKDF over the whole context), so chunk nonces never repeat under a key.
      const uploadKey = keys?.suite === SEAL_SUITE_AEAD ? await uploadKeyFromShared(o.crypto, keys.shared, { clientBoxKey: keys.boxPublicKey, sealPublicKey: keys.sealPublicKey }, ctx) : undefined;
      await emit(socket, o.deadline, platform, UPLOAD_EVENTS.begin, begin);
      const count = chunkCount(byteLength, chunkBytes);
      // Two chunks in flight (the coordinator's limit): sealing chunk i+1 here overlaps with
      // the coordinator opening chunk i; a third waits for the oldest ack (backpressure).
      const inFlight: Array<Promise<void>> = [];
      try {
        for (let index = 0; index < count; index++) {
          if (inFlight.length >= UPLOAD_WINDOW) await inFlight.shift();
          o.onChunk?.(index, count);
          const start = index * chunkBytes;
          const plain = o.bytes.subarray(start, start + chunkPlainLength(byteLength, chunkBytes, index));
          // Sealed: a fresh ciphertext per chunk; plaintext (allowed coordinators only): a copy, never a view of the whole update.
          const body = keys ? await sealWith(o.crypto, keys, uploadKey, ctx, index, plain) : plain.slice();
          if (index === count - 1) finalSent = true;
          const sent = emit(socket, o.deadline, platform, UPLOAD_EVENTS.chunk, { roundId: o.meta.roundId, uploadId, index }, body);
          sent.catch(() => undefined); // observed below; never an unhandled rejection
          inFlight.push(sent);
        }
        while (inFlight.length > 0) await inFlight.shift();
      } finally {
        // A failed chunk ends the attempt: let the other acks settle before a retry starts.
        await Promise.allSettled(inFlight);
      }
      uploadKey?.fill(0);
      return;
    } catch (err) {
      // The last chunk of a lost attempt did arrive: the update already counts (once).
      if (err instanceof FlockError && err.code === 'DUPLICATE_UPDATE' && attempt > 0 && finalSent) return;
      const retry = isDisconnect(err) || (err instanceof FlockError && err.code === 'UPLOAD_REJECTED' && RETRYABLE_REASONS.has(String(err.details?.reason)));
      if (!retry || aborted() || platform.now() >= o.deadline || attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
