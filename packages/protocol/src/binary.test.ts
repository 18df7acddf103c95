// Binary fields as browsers deliver them (ArrayBuffer) and as apps may pass them (typed-array views).
import { describe, expect, it } from 'vitest';
import { bytesSchema, toBytes } from './binary.js';
import { FlockError } from './errors.js';
import { binarySchema } from './messages.js';
import { uploadBeginSchema } from './uploads.js';
import { SECAGG_SHARE_BYTES, SECAGG_SHARE_CIPHERTEXT_BYTES, secAggAdvertiseKeysSchema } from './secagg.js';
import { SECAGG_KEY_RECORD_BYTES, packRoster, packShares, packUnmask, unpackAdvertise, unpackMaskedInput, unpackRoster, unpackShares, unpackUnmask } from './secagg-wire.js';

const filled = (n: number, v: number) => new Uint8Array(n).fill(v);
/** What a browser's socket.io hands the app for a Uint8Array the other side sent: a bare ArrayBuffer. */
const asArrayBuffer = (b: Uint8Array): ArrayBuffer => b.slice().buffer as ArrayBuffer;

const advertise = (clientId: string, v: number) => ({
  stage: 'advertise-keys' as const,
  session: 's1',
  round: 3,
  clientId,
  identityKey: filled(32, v),
  encryptionKey: filled(32, v + 1),
  maskKey: filled(32, v + 2),
  selfSeedCommitment: filled(32, v + 3),
  signature: filled(64, v + 4),
});

describe('bytesSchema', () => {
  it('accepts Uint8Array, Buffer, ArrayBuffer, typed arrays and DataView, and yields a Uint8Array of the same bytes', () => {
    const src = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const input of [src, Buffer.from(src), asArrayBuffer(src), new Uint32Array(src.slice().buffer), new DataView(src.slice().buffer)]) {
      const out = bytesSchema.parse(input);
      expect(out).toBeInstanceOf(Uint8Array);
      expect(Array.from(out)).toEqual(Array.from(src));
    }
  });

  it('keeps the offset of a view into a larger buffer', () => {
    const big = new Uint8Array([9, 9, 1, 2, 3, 9]);
    expect(Array.from(toBytes(new DataView(big.buffer, 2, 3)))).toEqual([1, 2, 3]);
  });

  it('refuses strings, numbers, arrays and plain objects with a message naming binary', () => {
    for (const bad of ['abc', 12, [1, 2], { 0: 1, length: 1 }, null]) {
      const r = binarySchema.safeParse(bad);
      expect(r.success).toBe(false);
      expect(r.error!.issues[0]!.message).toMatch(/must be binary/);
    }
  });

  it('checks sizes after normalising: a 31-byte ArrayBuffer key is refused, a 32-byte one accepted', () => {
    const m = advertise('a', 1);
    expect(secAggAdvertiseKeysSchema.safeParse({ ...m, identityKey: asArrayBuffer(m.identityKey) }).success).toBe(true);
    const r = secAggAdvertiseKeysSchema.safeParse({ ...m, identityKey: new ArrayBuffer(31) });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toBe('must be 32 bytes');
  });
});

describe('SecAgg wire messages with ArrayBuffer fields (as a browser receives them)', () => {
  it('unpacks a roster whose keys arrive as an ArrayBuffer', () => {
    const packed = packRoster({ stage: 'roster', session: 's1', round: 3, entries: [advertise('a', 1), advertise('b', 10)] });
    const roster = unpackRoster({ ...packed, keys: asArrayBuffer(packed.keys) });
    expect(roster.entries.map((e) => e.clientId)).toEqual(['a', 'b']);
    expect(roster.entries[1]!.maskKey).toEqual(filled(32, 12));
    expect(roster.entries[0]!.signature).toBeInstanceOf(Uint8Array);
  });

  it('unpacks share deliveries, unmask responses, masked inputs and key adverts from ArrayBuffers and views', () => {
    const ct = filled(SECAGG_SHARE_CIPHERTEXT_BYTES, 7);
    const shares = packShares({ stage: 'share-delivery', session: 's1', round: 3, clientId: 'a', shares: [{ peer: 'b', ciphertext: ct }] });
    expect(unpackShares('share-delivery', { ...shares, ciphertexts: asArrayBuffer(shares.ciphertexts) }).shares[0]!.ciphertext).toEqual(ct);

    const share = filled(SECAGG_SHARE_BYTES, 5);
    const unmask = packUnmask({ stage: 'unmask', session: 's1', round: 3, clientId: 'a', selfSeedShares: [{ owner: 'b', share }], maskKeyShares: [] });
    const u = unpackUnmask({ ...unmask, selfSeedShares: asArrayBuffer(unmask.selfSeedShares), maskKeyShares: new ArrayBuffer(0) });
    expect(u.selfSeedShares[0]!.share).toEqual(share);

    const masked = new Uint32Array([1, 2, 3]);
    expect(unpackMaskedInput({ stage: 'masked-input', session: 's1', round: 3, clientId: 'a', masked: new DataView(masked.buffer) }).masked).toEqual(new Uint8Array(masked.buffer));

    const rec = new Uint8Array(SECAGG_KEY_RECORD_BYTES).fill(3);
    expect(unpackAdvertise({ stage: 'advertise-keys', session: 's1', round: 3, clientId: 'a', keys: asArrayBuffer(rec) }).identityKey).toEqual(filled(32, 3));
  });

  it('keeps the zod message in the BAD_MESSAGE error: which message, which field, why', () => {
    let caught: unknown;
    try {
      unpackRoster({ stage: 'roster', session: 's1', round: 3, clientIds: ['a'], keys: 'not bytes' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FlockError);
    expect((caught as FlockError).code).toBe('BAD_MESSAGE');
    expect((caught as FlockError).message).toBe('secagg roster: keys: must be binary (a Uint8Array, an ArrayBuffer or a typed-array view)');
  });
});

describe('upload schemas with ArrayBuffer fields', () => {
  it('accepts a 128-byte seal record as an ArrayBuffer and refuses a 127-byte one', () => {
    const base = { roundId: 'r1', uploadId: '0123456789abcdef', modelVersion: 0, numExamples: 5, byteLength: 40, chunkBytes: 1024 };
    const ok = uploadBeginSchema.safeParse({ ...base, seal: new ArrayBuffer(128) });
    expect(ok.success).toBe(true);
    expect(ok.data!.seal).toBeInstanceOf(Uint8Array);
    expect(uploadBeginSchema.safeParse({ ...base, seal: new ArrayBuffer(127) }).success).toBe(false);
  });
});
