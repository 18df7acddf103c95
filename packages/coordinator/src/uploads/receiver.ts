/**
 * Receives chunked (and, outside secure aggregation, sealed) training updates.
 *
 * - At most one upload in flight per client session; a new `round:upload` replaces it.
 * - The plaintext goes into one preallocated buffer of exactly 4 * numParams bytes; chunks
 *   must arrive in order, each of its exact size; at most `maxQueuedChunks` may wait to be
 *   processed (a client has to wait for acks: backpressure).
 * - The key record must verify for this federation and client id and, on an authenticated
 *   session (token mode), carry the Ed25519 identity key that session authenticated with.
 * - Sealed chunks are opened straight into that buffer; the finished buffer is handed to
 *   the aggregator and zeroed at once. Plaintext is never logged or kept.
 * - Two sealing suites (protocol/v1.md 5.4a): `x25519-hkdf-sha256-aes-256-gcm`, opened with
 *   OpenSSL's AES-256-GCM (node:crypto), and the deprecated nacl.box `x25519-xsalsa20-poly1305`
 *   (an upload without `sealSuite`), accepted unless `sealSuites` leaves it out.
 */
import {
  FlockError,
  SEAL_OVERHEAD_BYTES,
  asBytes,
  badMessage,
  binarySchema,
  chunkCount,
  chunkPlainLength,
  uploadBeginSchema,
  uploadChunkSchema,
  type Ack,
  type UploadBegin,
  UPLOAD_EVENTS,
} from '@flock/protocol';
import {
  SEAL_SUITES,
  SEAL_SUITE_AEAD,
  SEAL_SUITE_LEGACY,
  SEAL_SUITE_OVERHEAD,
  aeadNonce,
  checkClientSealKeyRecord,
  sealedChunkContext,
  equalBytes,
  isAllZero,
  isSealSuite,
  openChunk,
  sealSharedKey,
  uploadKeyFromShared,
  x25519Shared,
  type BoxKeyPair,
  type PlatformCrypto,
  type SealSuite,
  type SealedUploadContext,
} from '@flock/privacy';
import { createHash } from 'node:crypto';
import { gcmOpenInto } from '@flock/privacy/node';

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** What the coordinator does with an upload (its round checks and its aggregation). */
export interface UploadHost {
  /** Throws (a FlockError) if this client may not send an update with this metadata now. */
  admit(clientId: string, meta: UploadBegin): void;
  /**
   * The Ed25519 public key the session `socketId` of `clientId` authenticated with (token
   * mode), which a sealed upload's key record must carry; null for an anonymous session
   * (open mode), where the record only has to be self-consistent. Throws (a FlockError) if
   * the session should have an authenticated identity and has none.
   */
  sessionIdentity(clientId: string, socketId: string): Uint8Array | null;
  /**
   * Validates and aggregates the finished update; throws a FlockError to reject it.
   * `firstNonFinite` is the index of the first NaN or infinite value of `delta` (-1: none),
   * found chunk by chunk as they were opened: the host uses it for its NON_FINITE check
   * instead of reading the whole update again (undefined: the host scans itself).
   */
  accept(clientId: string, meta: UploadBegin, delta: Float32Array, firstNonFinite?: number): void | Promise<void>;
  /** Settles the client's report for its round as rejected (a malformed update) and throws `err`. */
  reject(clientId: string, err: FlockError): never;
  /** Counts received update bytes (traffic statistics). */
  countBytes(n: number): void;
}

export interface UploadReceiverOptions {
  federationId: string;
  numParams: number;
  /** Largest plaintext chunk accepted. */
  chunkBytes: number;
  /** Refuse unsealed uploads. */
  sealRequired: boolean;
  sealKey: BoxKeyPair;
  /** Sealing suites accepted (default: every suite, the AEAD one first); the welcome announces the same list. */
  sealSuites?: readonly SealSuite[];
  platform: PlatformCrypto;
  host: UploadHost;
  /** Chunks that may wait while an earlier one is processed (default 2). */
  maxQueuedChunks?: number;
}

interface Upload {
  clientId: string;
  socketId: string;
  meta: UploadBegin;
  ctx: SealedUploadContext;
  chunks: number;
  next: number;
  queued: number;
  /** Resolves to the suite and key (nacl.box key, or the AEAD suite's upload key) or null (plaintext); rejects on a bad key record. */
  key: Promise<{ suite: SealSuite; key: Uint8Array } | null>;
  /** Serialises chunk processing. */
  tail: Promise<unknown>;
  delta: Float32Array;
  bytes: Uint8Array;
  /** Set once the buffer went back to the pool: nothing may write to it for this upload again. */
  released: boolean;
  /** context_i without its last field LP(i) (5.4a): the AAD of chunk i is SHA-256(prefix | LP(i)). */
  contextPrefix: Uint8Array;
  /** Values [0, scanned) were checked for NaN and infinity as their chunks were opened. */
  scanned: number;
  /** The first non-finite value's index among those, or -1. */
  firstBad: number;
}

/**
 * A session's verified key record and its X25519 output with the coordinator's seal key: the
 * record is the same for every upload of a session, so the Ed25519 check and the X25519 run once
 * per session, not once per upload. Wiped when the session goes.
 */
interface SessionKey {
  socketId: string;
  record: Uint8Array;
  boxKey: Uint8Array;
  shared: Uint8Array;
}

/** Sessions whose key record is remembered at most (beyond that the oldest is forgotten and verified again when it uploads). */
const MAX_SESSION_KEYS = 200_000;

/**
 * Zeroed update buffers kept for reuse, at most this many bytes in all (no page faults, no GC
 * churn per upload). 256 MiB: with hundreds of uploads in flight, a 64 MiB pool (16 buffers of a
 * 1M-parameter model) missed almost every time, and each miss was 4 MB of fresh external memory
 * (zeroed pages, and a push towards the next full GC).
 */
const POOL_BYTES = 256 * 1024 * 1024;

function rejected(reason: string, message: string, details: Record<string, unknown> = {}): FlockError {
  return new FlockError('UPLOAD_REJECTED', message, { reason, ...details });
}

export class UploadReceiver {
  private readonly uploads = new Map<string, Upload>();
  /** Clients whose upload completed, per recent round: a retry after a lost final ack learns DUPLICATE_UPDATE even once the round ended. */
  private readonly completed = new Map<string, Set<string>>();
  private readonly o: UploadReceiverOptions;
  private readonly maxQueued: number;
  private readonly suites: readonly SealSuite[];
  /** Zeroed buffers of exactly numParams float32 values, ready for the next upload. */
  private readonly pool: Float32Array[] = [];
  private readonly poolMax: number;
  private readonly sessionKeys = new Map<string, SessionKey>();
  /** Completed sealed uploads per suite (statistics, benchmarks). */
  readonly completedBySuite: Record<SealSuite, number> = { [SEAL_SUITE_AEAD]: 0, [SEAL_SUITE_LEGACY]: 0 };

  constructor(options: UploadReceiverOptions) {
    this.o = options;
    this.maxQueued = options.maxQueuedChunks ?? 2;
    this.suites = options.sealSuites ?? SEAL_SUITES;
    this.poolMax = Math.floor(POOL_BYTES / Math.max(1, options.numParams * 4));
  }

  /** Uploads in flight (one per session at most). */
  get inFlight(): number {
    return this.uploads.size;
  }

  /** `round:upload`: checks the round, preallocates the buffer, verifies the key record. */
  begin(clientId: string, socketId: string, args: unknown[]): Promise<Ack> | Ack {
    const parsed = uploadBeginSchema.safeParse(args[0]);
    if (!parsed.success) throw badMessage(UPLOAD_EVENTS.begin, parsed.error);
    if (args.length !== 1) throw new FlockError('BAD_MESSAGE', `${UPLOAD_EVENTS.begin} takes one object and an ack; got ${args.length} arguments`);
    const meta = parsed.data;
    if (meta.chunkBytes > this.o.chunkBytes) {
      throw new FlockError('PAYLOAD_TOO_LARGE', `chunks of ${meta.chunkBytes} bytes announced; this coordinator accepts at most ${this.o.chunkBytes}`, { chunkBytes: this.o.chunkBytes });
    }
    if (!meta.seal && this.o.sealRequired) throw rejected('unsealed', 'this coordinator only accepts sealed updates (see welcome.sealKey)');
    // An upload without `sealSuite` is sealed with the legacy suite (clients from before suites existed).
    const suite = meta.sealSuite ?? SEAL_SUITE_LEGACY;
    if (meta.seal && !(isSealSuite(suite) && this.suites.includes(suite))) {
      throw new FlockError('SEAL_INVALID', `sealing suite ${suite} is not accepted by this coordinator; it accepts ${this.suites.join(', ')}`, { reason: 'unsupported-suite', suite, accepted: [...this.suites] });
    }
    if (this.completed.get(meta.roundId)?.has(clientId)) {
      throw new FlockError('DUPLICATE_UPDATE', `client ${clientId} already delivered its update for round ${meta.roundId}`);
    }
    // The round checks come before any allocation.
    this.o.host.admit(clientId, meta);
    const identity = meta.seal ? this.o.host.sessionIdentity(clientId, socketId) : null;
    const expected = this.o.numParams * 4;
    if (meta.byteLength !== expected) {
      // A malformed update settles the client's report as rejected, as a wrong-shape round:update does.
      this.o.host.reject(
        clientId,
        new FlockError(meta.byteLength > expected ? 'PAYLOAD_TOO_LARGE' : 'WRONG_SHAPE', `update of ${meta.byteLength} bytes announced; the model needs ${expected} (${this.o.numParams} float32 values)`, {
          receivedBytes: meta.byteLength,
          expectedBytes: expected,
        }),
      );
    }
    this.drop(clientId);
    const ctx: SealedUploadContext = {
      federationId: this.o.federationId,
      roundId: meta.roundId,
      clientId,
      modelVersion: meta.modelVersion,
      numExamples: meta.numExamples,
      uploadId: meta.uploadId,
      byteLength: meta.byteLength,
      chunkBytes: meta.chunkBytes,
    };
    const key = meta.seal ? this.sharedKey(asBytes(meta.seal), clientId, socketId, identity, suite as SealSuite, ctx) : Promise.resolve(null);
    const context0 = sealedChunkContext(ctx, 0);
    // A pooled buffer is all zeros (zeroed when its last upload ended), like a fresh one.
    const delta = this.pool.pop() ?? new Float32Array(this.o.numParams);
    const upload: Upload = {
      clientId,
      socketId,
      meta: { ...meta, seal: undefined, sealSuite: undefined },
      ctx,
      chunks: chunkCount(meta.byteLength, meta.chunkBytes),
      next: 0,
      queued: 0,
      key,
      tail: Promise.resolve(),
      delta,
      bytes: new Uint8Array(delta.buffer),
      released: false,
      contextPrefix: context0.subarray(0, context0.length - 12),
      scanned: 0,
      firstBad: -1,
    };
    this.uploads.set(clientId, upload);
    return key.then(
      () => ({ ok: true as const }),
      (err: unknown) => {
        if (this.uploads.get(clientId) === upload) this.discard(upload);
        throw err;
      },
    );
  }

  private async sharedKey(record: Uint8Array, clientId: string, socketId: string, identity: Uint8Array | null, suite: SealSuite, ctx: SealedUploadContext): Promise<{ suite: SealSuite; key: Uint8Array }> {
    // An authenticated session seals with the identity it authenticated with: a record signed
    // by any other Ed25519 key is refused, however well it verifies on its own.
    if (identity && record.length === 128 && !equalBytes(record.subarray(0, 32), identity)) {
      throw new FlockError('SEAL_INVALID', 'the seal key record is not signed by the identity this session authenticated with', { reason: 'identity-mismatch' });
    }
    const session = await this.sessionKey(record, clientId, socketId);
    if (suite === SEAL_SUITE_LEGACY) {
      const k = await sealSharedKey(this.o.platform, this.o.sealKey, session.boxKey);
      if (!k) throw lowOrder();
      return { suite, key: k };
    }
    const k = await uploadKeyFromShared(this.o.platform, session.shared, { clientBoxKey: session.boxKey, sealPublicKey: this.o.sealKey.publicKey }, ctx);
    return { suite, key: k };
  }

  /** The session's verified key record (checked once per session and record). */
  private async sessionKey(record: Uint8Array, clientId: string, socketId: string): Promise<SessionKey> {
    const hit = this.sessionKeys.get(clientId);
    if (hit && hit.socketId === socketId && equalBytes(hit.record, record)) return hit;
    const checked = await checkClientSealKeyRecord(this.o.platform, record, this.o.federationId, clientId);
    if (!checked.ok) throw new FlockError('SEAL_INVALID', 'the seal key record does not verify for this federation and client id', { reason: 'key-binding' });
    const shared = await x25519Shared(this.o.platform, this.o.sealKey.secretKey, this.o.sealKey.publicKey, checked.boxKey);
    if (isAllZero(shared)) throw lowOrder();
    const entry: SessionKey = { socketId, record: record.slice(), boxKey: checked.boxKey, shared };
    this.forgetSession(clientId);
    if (this.sessionKeys.size >= MAX_SESSION_KEYS) this.forgetSession(this.sessionKeys.keys().next().value!);
    this.sessionKeys.set(clientId, entry);
    return entry;
  }

  private forgetSession(clientId: string, socketId?: string): void {
    const k = this.sessionKeys.get(clientId);
    if (!k || (socketId !== undefined && k.socketId !== socketId)) return;
    k.shared.fill(0);
    this.sessionKeys.delete(clientId);
  }

  /** `round:chunk`: one chunk, in order; the last one's ack is the verdict on the update. */
  chunk(clientId: string, args: unknown[]): Promise<Ack> {
    const head = uploadChunkSchema.safeParse(args[0]);
    if (!head.success) throw badMessage(UPLOAD_EVENTS.chunk, head.error);
    const body = binarySchema.safeParse(args[1]);
    if (!body.success || args.length !== 2) throw new FlockError('BAD_MESSAGE', `${UPLOAD_EVENTS.chunk} takes (header, binary chunk) and an ack; got ${args.length} arguments`);
    const bytes = asBytes(body.data);
    const u = this.uploads.get(clientId);
    if (!u || u.ctx.roundId !== head.data.roundId || u.ctx.uploadId !== head.data.uploadId) {
      this.o.host.countBytes(bytes.byteLength);
      throw rejected('no-upload', 'no upload with this round and upload id is in progress on this session; start one with round:upload');
    }
    if (u.queued >= this.maxQueued) {
      this.o.host.countBytes(bytes.byteLength);
      throw rejected('backpressure', 'too many chunks in flight: wait for each chunk\'s ack before sending the next');
    }
    u.queued++;
    const index = head.data.index;
    const run = u.tail.then(async () => {
      u.queued--;
      if (this.uploads.get(clientId) !== u) throw rejected('no-upload', 'the upload was aborted');
      if (index < u.next) throw rejected('duplicate', `chunk ${index} was already received`, { expected: u.next });
      if (index > u.next) throw rejected('out-of-order', `chunk ${index} arrived; chunk ${u.next} is next`, { expected: u.next });
      const sealed = await u.key;
      // The upload may have been dropped while the key was derived: its buffer may be another upload's now.
      if (u.released) throw rejected('no-upload', 'the upload was aborted');
      const plain = chunkPlainLength(u.ctx.byteLength, u.ctx.chunkBytes, index);
      const want = sealed ? plain + SEAL_SUITE_OVERHEAD[sealed.suite] : plain;
      // Traffic counts update payload bytes (the plaintext size), as for round:update; sealing adds 16 or 72 per chunk.
      this.o.host.countBytes(bytes.byteLength === want ? plain : bytes.byteLength);
      if (bytes.byteLength !== want) {
        this.discard(u);
        throw new FlockError(bytes.byteLength > want ? 'PAYLOAD_TOO_LARGE' : 'WRONG_SHAPE', `chunk ${index} has ${bytes.byteLength} bytes; expected ${want}`, { receivedBytes: bytes.byteLength, expectedBytes: want });
      }
      const offset = index * u.ctx.chunkBytes;
      if (sealed?.suite === SEAL_SUITE_AEAD) {
        // Opened straight into the update buffer (OpenSSL AES-256-GCM); zeroed again if the tag fails.
        if (!gcmOpenInto(sealed.key, aeadNonce(index), chunkAad(u.contextPrefix, index), bytes, u.bytes.subarray(offset, offset + plain))) {
          this.discard(u);
          throw new FlockError('SEAL_INVALID', `chunk ${index} does not open: tampered, sealed with another key or suite, or for another federation, round, client, model version, upload or position`, { reason: 'decrypt' });
        }
      } else if (sealed) {
        const opened = openChunk(sealed.key, u.ctx, index, bytes);
        if (!opened.ok) {
          this.discard(u);
          throw new FlockError('SEAL_INVALID', opened.reason === 'context' ? `chunk ${index} was sealed for another federation, round, client, model version or upload` : `chunk ${index} does not open (tampered or wrong key)`, { reason: opened.reason });
        }
        u.bytes.set(opened.plaintext, offset);
        opened.plaintext.fill(0);
      } else {
        u.bytes.set(bytes, offset);
      }
      u.next++;
      // The values this chunk completed are checked for NaN and infinity now, while the opened
      // bytes are still in cache: the verdict (after the round checks, 5.4a) needs no second pass.
      if (LITTLE_ENDIAN && u.firstBad < 0) scanFinite(u, Math.floor((offset + plain) / 4));
      if (u.next < u.chunks) return { ok: true as const };
      // Complete: hand the update over and drop the plaintext whatever the verdict.
      this.uploads.delete(clientId);
      try {
        if (LITTLE_ENDIAN) await this.o.host.accept(clientId, u.meta, u.delta, u.firstBad);
        else await this.o.host.accept(clientId, u.meta, decodeLE(u.bytes));
        this.markCompleted(u.ctx.roundId, clientId);
        if (sealed) this.completedBySuite[sealed.suite]++;
        return { ok: true as const };
      } finally {
        this.release(u);
        if (sealed?.suite === SEAL_SUITE_AEAD) sealed.key.fill(0);
      }
    });
    u.tail = run.catch(() => undefined);
    return run;
  }

  private markCompleted(roundId: string, clientId: string): void {
    let set = this.completed.get(roundId);
    if (!set) {
      set = new Set();
      this.completed.set(roundId, set);
      // Remember the last few rounds only.
      while (this.completed.size > 4) this.completed.delete(this.completed.keys().next().value!);
    }
    set.add(clientId);
  }

  /** Drops the client's upload (disconnect; a new upload). Only the session that owns it, if given. */
  drop(clientId: string, socketId?: string): void {
    const u = this.uploads.get(clientId);
    if (u && (socketId === undefined || u.socketId === socketId)) this.discard(u);
  }

  /** The session `socketId` of `clientId` is gone: drop its upload and forget its key record. */
  dropSession(clientId: string, socketId: string): void {
    this.drop(clientId, socketId);
    this.forgetSession(clientId, socketId);
  }

  /** Drops every upload of a round that ended. */
  dropRound(roundId: string): void {
    for (const u of [...this.uploads.values()]) if (u.ctx.roundId === roundId) this.discard(u);
  }

  /** Zeroes the upload's buffer and returns it to the pool (once). */
  private release(u: Upload): void {
    if (u.released) return;
    u.released = true;
    u.bytes.fill(0);
    if (this.pool.length < this.poolMax) this.pool.push(u.delta);
  }

  private discard(u: Upload): void {
    if (this.uploads.get(u.clientId) === u) this.uploads.delete(u.clientId);
    this.release(u);
    // The AEAD upload key is one upload's: wipe it once the upload is gone.
    u.key.then((k) => k?.suite === SEAL_SUITE_AEAD && k.key.fill(0), () => undefined);
  }
}

function lowOrder(): FlockError {
  return new FlockError('SEAL_INVALID', 'the client box key is a low-order point', { reason: 'key-binding' });
}

/** SHA-256(context_i) from the upload's context prefix: LP(i) is 00000008 | u64be(i). OpenSSL's SHA-256 (the coordinator runs on Node). */
function chunkAad(prefix: Uint8Array, index: number): Uint8Array {
  const tail = new Uint8Array(12);
  const v = new DataView(tail.buffer);
  v.setUint32(0, 8);
  v.setUint32(4, Math.floor(index / 2 ** 32));
  v.setUint32(8, index >>> 0);
  return createHash('sha256').update(prefix).update(tail).digest();
}

/** Scans values [u.scanned, end) of the update for NaN and infinity; records the first one. */
function scanFinite(u: Upload, end: number): void {
  const d = u.delta;
  let i = u.scanned;
  // v - v is NaN exactly when v is NaN or infinite, and a sum with a NaN term is NaN: four
  // values per test; the exact index is looked for only in a group that fails.
  for (; i + 4 <= end; i += 4) {
    const a = d[i]!;
    const b = d[i + 1]!;
    const c = d[i + 2]!;
    const e = d[i + 3]!;
    if (a - a + (b - b) + (c - c) + (e - e) !== 0) break;
  }
  for (; i < end; i++) {
    const v = d[i]!;
    if (v - v !== 0) {
      u.firstBad = i;
      break;
    }
  }
  u.scanned = end;
}

function decodeLE(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.byteLength / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
