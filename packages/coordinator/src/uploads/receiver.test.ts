import { describe, expect, it } from 'vitest';
import { FlockError, type UploadBegin } from '@flock/protocol';
import {
  generateBoxKeyPair,
  generateIdentityKeyPair,
  clientSealKeyRecord,
  sealChunk,
  sealSharedKey,
  deriveCoordinatorSealKey,
  deriveUploadKey,
  sealChunkAead,
  SEAL_SUITE_AEAD,
  SEAL_SUITE_LEGACY,
  type SealSuite,
} from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { UploadReceiver, type UploadHost } from './receiver.js';

const numParams = 3000; // 12,000 bytes: 12 chunks of 1024 (the last 736)
const p = nodePlatform;

function setup(sealRequired = true, identities: Map<string, Uint8Array> = new Map(), sealSuites?: SealSuite[]) {
  const accepted: Array<{ clientId: string; delta: Float32Array }> = [];
  const host: UploadHost = {
    admit: (_c, meta) => {
      if (meta.roundId !== 'r1') throw new FlockError('ROUND_NOT_ACTIVE');
    },
    // Sessions listed in `identities` are authenticated (token mode); the rest are anonymous.
    sessionIdentity: (_c, socketId) => identities.get(socketId) ?? null,
    accept: (clientId, _m, delta) => void accepted.push({ clientId, delta: delta.slice() }),
    reject: (_c, err) => {
      throw err;
    },
    countBytes: () => undefined,
  };
  const sealKey = deriveCoordinatorSealKey(generateIdentityKeyPair(p));
  const rx = new UploadReceiver({ federationId: 'fed', numParams, chunkBytes: 1024, sealRequired, sealKey, platform: p, host, ...(sealSuites ? { sealSuites } : {}) });
  return { rx, accepted, sealKey };
}

async function client(sealKey: { publicKey: Uint8Array }, clientId = 'c1', identity = generateIdentityKeyPair(p)) {
  const box = generateBoxKeyPair(p);
  const record = await clientSealKeyRecord(p, identity, box, 'fed', clientId);
  const shared = (await sealSharedKey(p, box, sealKey.publicKey))!;
  return { record, shared, identity, box };
}

const meta = (over: Partial<UploadBegin> = {}): UploadBegin => ({ roundId: 'r1', uploadId: 'aaaaaaaaaaaaaaaa', modelVersion: 0, numExamples: 4, byteLength: numParams * 4, chunkBytes: 1024, ...over });

async function code(f: () => Promise<unknown> | unknown): Promise<string> {
  try {
    await f();
    return 'ok';
  } catch (e) {
    return e instanceof FlockError ? `${e.code}${e.details?.reason ? ':' + String(e.details.reason) : ''}` : 'untyped';
  }
}

describe('UploadReceiver', () => {
  it('assembles a sealed upload in order into the exact-size buffer; refuses out-of-order, duplicate, oversize and unbacked chunks with typed errors', async () => {
    const { rx, accepted, sealKey } = setup();
    const c = await client(sealKey);
    const delta = Float32Array.from({ length: numParams }, (_, i) => i / 7);
    const bytes = new Uint8Array(delta.buffer);
    const m = meta();
    const ctx = { federationId: 'fed', roundId: 'r1', clientId: 'c1', modelVersion: 0, numExamples: 4, uploadId: m.uploadId, byteLength: m.byteLength, chunkBytes: 1024 };
    const chunk = (i: number) => sealChunk(p, c.shared, ctx, i, bytes.subarray(i * 1024, Math.min(bytes.length, (i + 1) * 1024)));
    expect(await rx.begin('c1', 's1', [{ ...m, seal: c.record }])).toEqual({ ok: true });
    const head = (index: number) => ({ roundId: 'r1', uploadId: m.uploadId, index });
    expect(await code(() => rx.chunk('c1', [head(1), chunk(1)]))).toBe('UPLOAD_REJECTED:out-of-order');
    expect(await rx.chunk('c1', [head(0), chunk(0)])).toEqual({ ok: true });
    expect(await code(() => rx.chunk('c1', [head(0), chunk(0)]))).toBe('UPLOAD_REJECTED:duplicate');
    expect(await code(() => rx.chunk('c1', [{ ...head(1), uploadId: 'bbbbbbbbbbbbbbbb' }, chunk(1)]))).toBe('UPLOAD_REJECTED:no-upload');
    expect(await code(() => rx.chunk('c2', [head(1), chunk(1)]))).toBe('UPLOAD_REJECTED:no-upload');
    for (let i = 1; i < 12; i++) expect(await rx.chunk('c1', [head(i), chunk(i)])).toEqual({ ok: true });
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.delta).toEqual(delta);
    expect(rx.inFlight).toBe(0);
    // A completed client cannot upload again for the round.
    expect(await code(() => rx.begin('c1', 's1', [{ ...m, uploadId: 'cccccccccccccccc', seal: c.record }]))).toBe('DUPLICATE_UPDATE');
    // Oversize chunk: typed, and the upload is dropped.
    const c2 = await client(sealKey, 'c2');
    expect(await rx.begin('c2', 's2', [{ ...m, uploadId: 'cccccccccccccccc', seal: c2.record }])).toEqual({ ok: true });
    expect(await code(() => rx.chunk('c2', [{ ...head(0), uploadId: 'cccccccccccccccc' }, new Uint8Array(1024 + 73)]))).toBe('PAYLOAD_TOO_LARGE');
    expect(rx.inFlight).toBe(0);
  });

  it('bounds a session to one upload and a few queued chunks (backpressure), and refuses unsealed or mis-sized announcements', async () => {
    const { rx, sealKey } = setup();
    const c = await client(sealKey);
    expect(await code(() => rx.begin('c1', 's1', [meta()]))).toBe('UPLOAD_REJECTED:unsealed');
    expect(await code(() => rx.begin('c1', 's1', [{ ...meta(), chunkBytes: 4096, seal: c.record }]))).toBe('PAYLOAD_TOO_LARGE');
    expect(await code(() => rx.begin('c1', 's1', [{ ...meta(), byteLength: 4, seal: c.record }]))).toBe('WRONG_SHAPE');
    expect(await code(() => rx.begin('c1', 's1', [{ ...meta(), roundId: 'r0', seal: c.record }]))).toBe('ROUND_NOT_ACTIVE');
    const elsewhere = (await client(sealKey, 'someone-else')).record;
    expect(await code(() => rx.begin('c1', 's1', [{ ...meta(), seal: elsewhere }]))).toBe('SEAL_INVALID:key-binding');
    // A second upload replaces the first: still one in flight.
    await rx.begin('c1', 's1', [{ ...meta(), seal: c.record }]);
    await rx.begin('c1', 's1', [{ ...meta(), uploadId: 'dddddddddddddddd', seal: c.record }]);
    expect(rx.inFlight).toBe(1);
    // A flood of chunks without waiting for acks: beyond the queue bound they are refused at once.
    const flood = Array.from({ length: 10 }, (_, i) => code(() => rx.chunk('c1', [{ roundId: 'r1', uploadId: 'dddddddddddddddd', index: i }, new Uint8Array(1024 + 72)])));
    const results = await Promise.all(flood);
    expect(results.filter((r) => r === 'UPLOAD_REJECTED:backpressure').length).toBeGreaterThanOrEqual(7);
    // Dropping the session's upload (disconnect) frees it; another session's drop does not.
    await rx.begin('c1', 's1', [{ ...meta(), uploadId: 'eeeeeeeeeeeeeeee', seal: c.record }]);
    rx.drop('c1', 'other-socket');
    expect(rx.inFlight).toBe(1);
    rx.drop('c1', 's1');
    expect(rx.inFlight).toBe(0);
  });

  it('on an authenticated session, refuses a key record signed by any identity other than the one the session authenticated with', async () => {
    const enrolled = generateIdentityKeyPair(p);
    const { rx, sealKey } = setup(true, new Map([['s1', enrolled.publicKey]]));
    // Self-consistent (valid signature by its own key, right federation and client id), but another identity.
    const impostor = await client(sealKey, 'c1');
    expect(await code(() => rx.begin('c1', 's1', [{ ...meta(), seal: impostor.record }]))).toBe('SEAL_INVALID:identity-mismatch');
    expect(rx.inFlight).toBe(0);
    // The enrolled key, but the signature made with another key: the binding does not verify.
    const forged = (await client(sealKey, 'c1')).record.slice();
    forged.set(enrolled.publicKey, 0);
    expect(await code(() => rx.begin('c1', 's1', [{ ...meta(), seal: forged }]))).toBe('SEAL_INVALID:key-binding');
    // The enrolled identity's own record is accepted; so is any self-consistent record on an anonymous session.
    const honest = await client(sealKey, 'c1', enrolled);
    expect(await rx.begin('c1', 's1', [{ ...meta(), seal: honest.record }])).toEqual({ ok: true });
    expect(await rx.begin('c2', 's2', [{ ...meta(), seal: (await client(sealKey, 'c2')).record }])).toEqual({ ok: true });
  });
});

describe('UploadReceiver sealing suites', () => {
  const delta = Float32Array.from({ length: numParams }, (_, i) => Math.sin(i));
  const bytes = new Uint8Array(delta.buffer);
  const ctxOf = (m: UploadBegin, clientId = 'c1') => ({ federationId: 'fed', roundId: m.roundId, clientId, modelVersion: m.modelVersion, numExamples: m.numExamples, uploadId: m.uploadId, byteLength: m.byteLength, chunkBytes: m.chunkBytes });
  const plainOf = (i: number) => bytes.subarray(i * 1024, Math.min(bytes.length, (i + 1) * 1024));
  const head = (m: UploadBegin, index: number) => ({ roundId: m.roundId, uploadId: m.uploadId, index });

  it('opens an x25519-hkdf-sha256-aes-256-gcm upload (chunks of plaintext + 16 bytes) into the exact update', async () => {
    const { rx, accepted, sealKey } = setup();
    const c = await client(sealKey);
    const m = meta({ sealSuite: SEAL_SUITE_AEAD });
    const k = (await deriveUploadKey(p, c.box.secretKey, c.box.publicKey, sealKey.publicKey, { clientBoxKey: c.box.publicKey, sealPublicKey: sealKey.publicKey }, ctxOf(m)))!;
    expect(await rx.begin('c1', 's1', [{ ...m, seal: c.record }])).toEqual({ ok: true });
    for (let i = 0; i < 12; i++) {
      const sealed = await sealChunkAead(p, k, ctxOf(m), i, plainOf(i));
      expect(sealed.length).toBe(plainOf(i).length + 16);
      expect(await rx.chunk('c1', [head(m, i), sealed])).toEqual({ ok: true });
    }
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.delta).toEqual(delta);
    expect(rx.completedBySuite).toEqual({ [SEAL_SUITE_AEAD]: 1, [SEAL_SUITE_LEGACY]: 0 });
  });

  it('refuses an AEAD chunk that is tampered, at another index, made for another upload, or sealed under the other suite, and discards the upload', async () => {
    const { rx, accepted, sealKey } = setup();
    const c = await client(sealKey);
    const m = meta({ sealSuite: SEAL_SUITE_AEAD });
    const key = async (mm: UploadBegin) => (await deriveUploadKey(p, c.box.secretKey, c.box.publicKey, sealKey.publicKey, { clientBoxKey: c.box.publicKey, sealPublicKey: sealKey.publicKey }, ctxOf(mm)))!;
    const k = await key(m);
    const other = meta({ sealSuite: SEAL_SUITE_AEAD, uploadId: 'bbbbbbbbbbbbbbbb' });
    const cases: Array<[string, Uint8Array]> = [];
    const flipped = (await sealChunkAead(p, k, ctxOf(m), 0, plainOf(0))).slice();
    flipped[100]! ^= 1;
    cases.push(['ciphertext byte', flipped]);
    const tag = (await sealChunkAead(p, k, ctxOf(m), 0, plainOf(0))).slice();
    tag[1024 + 3]! ^= 0x80;
    cases.push(['tag byte', tag]);
    cases.push(['chunk 1 sent as chunk 0', await sealChunkAead(p, k, ctxOf(m), 1, plainOf(0))]);
    cases.push(['another upload', await sealChunkAead(p, await key(other), ctxOf(other), 0, plainOf(0))]);
    // Legacy-sealed bytes cut to the AEAD length: the suite named in round:upload decides, and they do not open.
    cases.push(['legacy suite', sealChunk(p, c.shared, ctxOf(m), 0, plainOf(0)).subarray(0, 1024 + 16)]);
    for (const [, sealed] of cases) {
      expect(await rx.begin('c1', 's1', [{ ...m, seal: c.record }])).toEqual({ ok: true });
      expect(await code(() => rx.chunk('c1', [head(m, 0), sealed]))).toBe('SEAL_INVALID:decrypt');
      expect(rx.inFlight).toBe(0);
    }
    // A legacy-length chunk on an AEAD upload is a size error, never opened.
    expect(await rx.begin('c1', 's1', [{ ...m, seal: c.record }])).toEqual({ ok: true });
    expect(await code(() => rx.chunk('c1', [head(m, 0), sealChunk(p, c.shared, ctxOf(m), 0, plainOf(0))]))).toBe('PAYLOAD_TOO_LARGE');
    expect(accepted).toHaveLength(0);
  });

  it('accepts the legacy suite by default (no sealSuite, or named); a coordinator that leaves it out refuses it, and any unknown suite, with SEAL_INVALID (unsupported-suite)', async () => {
    for (const named of [{}, { sealSuite: SEAL_SUITE_LEGACY }]) {
      const { rx, accepted, sealKey } = setup();
      const c = await client(sealKey);
      const m = meta(named);
      expect(await rx.begin('c1', 's1', [{ ...m, seal: c.record }])).toEqual({ ok: true });
      for (let i = 0; i < 12; i++) expect(await rx.chunk('c1', [head(m, i), sealChunk(p, c.shared, ctxOf(m), i, plainOf(i))])).toEqual({ ok: true });
      expect(accepted[0]!.delta).toEqual(delta);
      expect(rx.completedBySuite[SEAL_SUITE_LEGACY]).toBe(1);
    }
    const { rx, sealKey } = setup(true, new Map(), [SEAL_SUITE_AEAD]);
    const c = await client(sealKey);
    expect(await code(() => rx.begin('c1', 's1', [{ ...meta(), seal: c.record }]))).toBe('SEAL_INVALID:unsupported-suite');
    expect(await code(() => rx.begin('c1', 's1', [{ ...meta({ sealSuite: SEAL_SUITE_LEGACY }), seal: c.record }]))).toBe('SEAL_INVALID:unsupported-suite');
    expect(await code(() => rx.begin('c1', 's1', [{ ...meta({ sealSuite: 'x25519-chacha20-poly1305' }), seal: c.record }]))).toBe('SEAL_INVALID:unsupported-suite');
    let refusal: unknown;
    try {
      await rx.begin('c1', 's1', [{ ...meta(), seal: c.record }]);
    } catch (e) {
      refusal = e;
    }
    expect((refusal as FlockError).details).toEqual({ reason: 'unsupported-suite', suite: SEAL_SUITE_LEGACY, accepted: [SEAL_SUITE_AEAD] });
    expect(rx.inFlight).toBe(0);
    expect(await rx.begin('c1', 's1', [{ ...meta({ sealSuite: SEAL_SUITE_AEAD }), seal: c.record }])).toEqual({ ok: true });
  });

  it('remembers a verified key record per session only: another record, another session or a dropped session is verified again', async () => {
    const { rx, sealKey } = setup();
    const c = await client(sealKey);
    const m = (id: string) => meta({ sealSuite: SEAL_SUITE_AEAD, uploadId: id.repeat(16) });
    expect(await rx.begin('c1', 's1', [{ ...m('a'), seal: c.record }])).toEqual({ ok: true });
    // The same session with a record signed for another client id: refused although a record is remembered.
    const forged = (await client(sealKey, 'someone-else')).record;
    expect(await code(() => rx.begin('c1', 's1', [{ ...m('b'), seal: forged }]))).toBe('SEAL_INVALID:key-binding');
    // A corrupted signature byte of the remembered record: verified again, refused.
    const bent = c.record.slice();
    bent[100]! ^= 1;
    expect(await code(() => rx.begin('c1', 's1', [{ ...m('c'), seal: bent }]))).toBe('SEAL_INVALID:key-binding');
    expect(await code(() => rx.begin('c1', 's2', [{ ...m('d'), seal: bent }]))).toBe('SEAL_INVALID:key-binding');
    // The genuine record still works on its session, and after the session is dropped.
    expect(await rx.begin('c1', 's1', [{ ...m('e'), seal: c.record }])).toEqual({ ok: true });
    rx.dropSession('c1', 's1');
    expect(rx.inFlight).toBe(0);
    const mm = m('f');
    expect(await rx.begin('c1', 's3', [{ ...mm, seal: c.record }])).toEqual({ ok: true });
    const k = (await deriveUploadKey(p, c.box.secretKey, c.box.publicKey, sealKey.publicKey, { clientBoxKey: c.box.publicKey, sealPublicKey: sealKey.publicKey }, ctxOf(mm)))!;
    for (let i = 0; i < 12; i++) expect(await rx.chunk('c1', [head(mm, i), await sealChunkAead(p, k, ctxOf(mm), i, plainOf(i))])).toEqual({ ok: true });
  });
});
