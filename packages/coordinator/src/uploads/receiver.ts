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
import { checkClientSealKeyRecord, equalBytes, openChunk, sealSharedKey, type BoxKeyPair, type PlatformCrypto, type SealedUploadContext } from '@flock/privacy';

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
  /** Validates and aggregates the finished update; throws a FlockError to reject it. */
  accept(clientId: string, meta: UploadBegin, delta: Float32Array): void | Promise<void>;
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
  /** Resolves to the nacl.box shared key (sealed) or null (plaintext); rejects on a bad key record. */
  key: Promise<Uint8Array | null>;
  /** Serialises chunk processing. */
  tail: Promise<unknown>;
  delta: Float32Array;
  bytes: Uint8Array;
}

function rejected(reason: string, message: string, details: Record<string, unknown> = {}): FlockError {
  return new FlockError('UPLOAD_REJECTED', message, { reason, ...details });
}

export class UploadReceiver {
  private readonly uploads = new Map<string, Upload>();
  /** Clients whose upload completed, per recent round: a retry after a lost final ack learns DUPLICATE_UPDATE even once the round ended. */
  private readonly completed = new Map<string, Set<string>>();
  private readonly o: UploadReceiverOptions;
  private readonly maxQueued: number;

  constructor(options: UploadReceiverOptions) {
    this.o = options;
    this.maxQueued = options.maxQueuedChunks ?? 2;
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
    const key: Promise<Uint8Array | null> = meta.seal ? this.sharedKey(asBytes(meta.seal), clientId, identity) : Promise.resolve(null);
    const delta = new Float32Array(this.o.numParams);
    const upload: Upload = {
      clientId,
      socketId,
      meta: { ...meta, seal: undefined },
      ctx,
      chunks: chunkCount(meta.byteLength, meta.chunkBytes),
      next: 0,
      queued: 0,
      key,
      tail: Promise.resolve(),
      delta,
      bytes: new Uint8Array(delta.buffer),
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

  private async sharedKey(record: Uint8Array, clientId: string, identity: Uint8Array | null): Promise<Uint8Array> {
    // An authenticated session seals with the identity it authenticated with: a record signed
    // by any other Ed25519 key is refused, however well it verifies on its own.
    if (identity && record.length === 128 && !equalBytes(record.subarray(0, 32), identity)) {
      throw new FlockError('SEAL_INVALID', 'the seal key record is not signed by the identity this session authenticated with', { reason: 'identity-mismatch' });
    }
    const checked = await checkClientSealKeyRecord(this.o.platform, record, this.o.federationId, clientId);
    if (!checked.ok) throw new FlockError('SEAL_INVALID', 'the seal key record does not verify for this federation and client id', { reason: 'key-binding' });
    const k = await sealSharedKey(this.o.platform, this.o.sealKey, checked.boxKey);
    if (!k) throw new FlockError('SEAL_INVALID', 'the client box key is a low-order point', { reason: 'key-binding' });
    return k;
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
      const key = await u.key;
      const plain = chunkPlainLength(u.ctx.byteLength, u.ctx.chunkBytes, index);
      const want = key ? plain + SEAL_OVERHEAD_BYTES : plain;
      // Traffic counts update payload bytes (the plaintext size), as for round:update; sealing adds 72 per chunk.
      this.o.host.countBytes(bytes.byteLength === want ? plain : bytes.byteLength);
      if (bytes.byteLength !== want) {
        this.discard(u);
        throw new FlockError(bytes.byteLength > want ? 'PAYLOAD_TOO_LARGE' : 'WRONG_SHAPE', `chunk ${index} has ${bytes.byteLength} bytes; expected ${want}`, { receivedBytes: bytes.byteLength, expectedBytes: want });
      }
      const offset = index * u.ctx.chunkBytes;
      if (key) {
        const opened = openChunk(key, u.ctx, index, bytes);
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
      if (u.next < u.chunks) return { ok: true as const };
      // Complete: hand the update over and drop the plaintext whatever the verdict.
      this.uploads.delete(clientId);
      try {
        const delta = LITTLE_ENDIAN ? u.delta : decodeLE(u.bytes);
        await this.o.host.accept(clientId, u.meta, delta);
        this.markCompleted(u.ctx.roundId, clientId);
        return { ok: true as const };
      } finally {
        u.bytes.fill(0);
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

  /** Drops every upload of a round that ended. */
  dropRound(roundId: string): void {
    for (const u of [...this.uploads.values()]) if (u.ctx.roundId === roundId) this.discard(u);
  }

  private discard(u: Upload): void {
    if (this.uploads.get(u.clientId) === u) this.uploads.delete(u.clientId);
    u.bytes.fill(0);
  }
}

function decodeLE(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.byteLength / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
