/**
 * The receiver checks an upload's values for NaN and infinity chunk by chunk as it opens them
 * (uploads/receiver.ts scanFinite) and hands the first bad index to the host, which then adds
 * nothing: a rejected update must leave the aggregate untouched. Real crypto, the real
 * streaming FedAvg aggregator; the host does what round/machine.ts acceptDelta does.
 */
import { describe, expect, it } from 'vitest';
import { FlockError, firstNonFinite, type UploadBegin } from '@flock/protocol';
import { clientSealKeyRecord, deriveCoordinatorSealKey, deriveUploadKey, generateBoxKeyPair, generateIdentityKeyPair, sealChunkAead, SEAL_SUITE_AEAD } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { WeightedMeanAggregator } from '../aggregator.js';
import { UploadReceiver } from './receiver.js';

const p = nodePlatform;
const numParams = 3000;

async function harness(chunkBytes: number) {
  const aggregator = new WeightedMeanAggregator(numParams);
  // A first, finite update so the sum is not all zeros; the sum is compared before and after.
  aggregator.add('seed', Float32Array.from({ length: numParams }, (_, i) => Math.cos(i)), 3);
  const seen: Array<number | undefined> = [];
  const sealKey = deriveCoordinatorSealKey(generateIdentityKeyPair(p));
  const rx = new UploadReceiver({
    federationId: 'fed',
    numParams,
    chunkBytes,
    sealRequired: true,
    sealKey,
    platform: p,
    host: {
      admit: () => undefined,
      sessionIdentity: () => null,
      accept: (clientId, meta, delta, scanned) => {
        seen.push(scanned);
        const bad = scanned ?? firstNonFinite(delta);
        if (bad >= 0) throw new FlockError('NON_FINITE', `value ${bad}`, { index: bad });
        aggregator.add(clientId, delta, meta.numExamples);
      },
      reject: (_c, err) => {
        throw err;
      },
      countBytes: () => undefined,
    },
  });
  const box = generateBoxKeyPair(p);
  const record = await clientSealKeyRecord(p, generateIdentityKeyPair(p), box, 'fed', 'c1');
  let n = 0;
  const upload = async (values: Float32Array): Promise<string> => {
    const bytes = new Uint8Array(values.buffer);
    const m: UploadBegin = { roundId: 'r1', uploadId: (++n).toString(16).padStart(16, '0'), modelVersion: 0, numExamples: 2, byteLength: numParams * 4, chunkBytes, sealSuite: SEAL_SUITE_AEAD };
    const ctx = { federationId: 'fed', roundId: 'r1', clientId: 'c1', modelVersion: 0, numExamples: 2, uploadId: m.uploadId, byteLength: m.byteLength, chunkBytes };
    const key = (await deriveUploadKey(p, box.secretKey, box.publicKey, sealKey.publicKey, { clientBoxKey: box.publicKey, sealPublicKey: sealKey.publicKey }, ctx))!;
    await rx.begin('c1', 's1', [{ ...m, seal: record }]);
    const count = Math.ceil(m.byteLength / chunkBytes);
    try {
      for (let i = 0; i < count; i++) {
        const plain = bytes.subarray(i * chunkBytes, Math.min(bytes.length, (i + 1) * chunkBytes));
        await rx.chunk('c1', [{ roundId: 'r1', uploadId: m.uploadId, index: i }, await sealChunkAead(p, key, ctx, i, plain)]);
      }
      return 'ok';
    } catch (e) {
      if (!(e instanceof FlockError)) throw e;
      return `${e.code}@${String(e.details?.index)}`;
    }
  };
  return { aggregator, seen, upload, sum: () => Float64Array.from((aggregator as unknown as { sum: Float64Array }).sum) };
}

describe('UploadReceiver finite scan', () => {
  // 1024-byte chunks (256 values each) and 1026-byte chunks (a value straddles every chunk boundary).
  for (const chunkBytes of [1024, 1026]) {
    it(`finds NaN, +Inf and -Inf at any position (first, chunk edges, straddling, last) before anything is added (chunkBytes ${chunkBytes})`, async () => {
      const h = await harness(chunkBytes);
      const before = h.sum();
      const positions = [0, 1, 255, 256, 257, 511, 512, 1500, 2998, 2999];
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        for (const at of positions) {
          const values = Float32Array.from({ length: numParams }, (_, i) => Math.sin(i) * 1e30);
          values[at] = bad;
          // A second bad value later: the first one is reported.
          if (at + 7 < numParams) values[at + 7] = Number.NaN;
          expect(await h.upload(values)).toBe(`NON_FINITE@${at}`);
          expect(h.seen.at(-1)).toBe(at);
          // Nothing of the rejected update reached the sum, not even its finite prefix.
          expect(h.sum()).toEqual(before);
        }
      }
      expect(h.aggregator.result().count).toBe(1);
      // Finite extremes pass and are added exactly once.
      const ok = Float32Array.from({ length: numParams }, (_, i) => (i % 2 ? 3.4028234663852886e38 : -1.401298464324817e-45));
      expect(await h.upload(ok)).toBe('ok');
      expect(h.seen.at(-1)).toBe(-1);
      const after = h.sum();
      for (let i = 0; i < numParams; i++) expect(after[i]).toBe(before[i]! + 2 * ok[i]!);
    });
  }
});
