/**
 * `flock bench fleet`, `bench: "fleet-ingest"`: the node's ingest path without the transport.
 * The coordinator's own UploadReceiver opens sealed uploads (key record check, key derivation,
 * AES-256-GCM or nacl.box per chunk, straight into the update buffer), then the round's
 * validation (finite check) and the streaming FedAvg aggregator add each one, in this process.
 * Uploads are sealed beforehand (not timed) by the SDK's crypto; socket.io, websockets and acks
 * are left out, so the line says what the crypto + validation + aggregation cost per byte, and
 * the gap to the fleet line is what the transport costs.
 */
import { performance } from 'node:perf_hooks';
import { FlockError, chunkCount, chunkPlainLength, firstNonFinite } from '@flock/protocol';
import { UploadReceiver, WeightedMeanAggregator } from '@flock/coordinator';
import {
  SEAL_SUITE_AEAD,
  SEAL_SUITE_OVERHEAD,
  clientSealKeyRecord,
  deriveCoordinatorSealKey,
  generateBoxKeyPair,
  generateIdentityKeyPair,
  sealChunk,
  sealChunkAead,
  sealSharedKey,
  uploadKeyFromShared,
  x25519Shared,
  type SealSuite,
  type SealedUploadContext,
} from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';

const p = nodePlatform;

/** `uploads` distinct clients (own identity and box key each) send one `numParams` update, sealed with `suite`. */
export async function runIngestPath(numParams: number, suite: SealSuite, uploads: number, chunkBytes: number): Promise<Record<string, unknown>> {
  const sealKey = deriveCoordinatorSealKey(generateIdentityKeyPair(p));
  const aggregator = new WeightedMeanAggregator(numParams);
  let accepted = 0;
  const rx = new UploadReceiver({
    federationId: 'bench',
    numParams,
    chunkBytes,
    sealRequired: true,
    sealKey,
    sealSuites: [suite],
    platform: p,
    host: {
      admit: () => undefined,
      sessionIdentity: () => null,
      accept: (clientId, meta, delta, scanned) => {
        // What the round does with a finished update (round/machine.ts acceptDelta): the finite
        // check (done by the receiver chunk by chunk as they were opened), then the streaming FedAvg.
        if ((scanned ?? firstNonFinite(delta)) >= 0) throw new FlockError('NON_FINITE');
        aggregator.add(clientId, delta, meta.numExamples);
        accepted++;
      },
      reject: (_c, err) => {
        throw err;
      },
      countBytes: () => undefined,
    },
  });
  const update = new Float32Array(numParams);
  const noise = p.randomBytes(numParams);
  for (let i = 0; i < numParams; i++) update[i] = (noise[i]! - 127.5) / 12_750;
  const bytes = new Uint8Array(update.buffer);
  const byteLength = numParams * 4;
  const count = chunkCount(byteLength, chunkBytes);
  // Seal every upload first (the load generators' work, not timed): rounds r1 and r2 from the same sessions.
  const sessions: Array<{ clientId: string; box: ReturnType<typeof generateBoxKeyPair>; record: Uint8Array }> = [];
  for (let u = 0; u < uploads; u++) {
    const clientId = `c${u}`;
    const identity = generateIdentityKeyPair(p);
    const box = generateBoxKeyPair(p);
    sessions.push({ clientId, box, record: await clientSealKeyRecord(p, identity, box, 'bench', clientId) });
  }
  const prepare = async (roundId: string) => {
    const prepared = [];
    for (const [u, { clientId, box, record }] of sessions.entries()) {
      const uploadId = `${roundId === 'r1' ? 'a' : 'b'}${u.toString(16).padStart(31, '0')}`;
      const ctx: SealedUploadContext = { federationId: 'bench', roundId, clientId, modelVersion: 0, numExamples: 1, uploadId, byteLength, chunkBytes };
      let seal: (i: number, plain: Uint8Array) => Promise<Uint8Array> | Uint8Array;
      if (suite === SEAL_SUITE_AEAD) {
        const shared = await x25519Shared(p, box.secretKey, box.publicKey, sealKey.publicKey);
        const key = await uploadKeyFromShared(p, shared, { clientBoxKey: box.publicKey, sealPublicKey: sealKey.publicKey }, ctx);
        seal = (i, plain) => sealChunkAead(p, key, ctx, i, plain);
      } else {
        const key = (await sealSharedKey(p, box, sealKey.publicKey))!;
        seal = (i, plain) => sealChunk(p, key, ctx, i, plain);
    }
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < count; i++) chunks.push(await seal(i, bytes.subarray(i * chunkBytes, i * chunkBytes + chunkPlainLength(byteLength, chunkBytes, i))));
    prepared.push({ clientId, begin: { roundId, uploadId, modelVersion: 0, numExamples: 1, byteLength, chunkBytes, seal: record, sealSuite: suite }, chunks });
    }
    return prepared;
  };
  const ingest = async (prepared: Awaited<ReturnType<typeof prepare>>): Promise<{ seconds: number; cpuSeconds: number }> => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (const up of prepared) {
      await rx.begin(up.clientId, `s-${up.clientId}`, [up.begin]);
      for (let i = 0; i < up.chunks.length; i++) await rx.chunk(up.clientId, [{ roundId: up.begin.roundId, uploadId: up.begin.uploadId, index: i }, up.chunks[i]]);
    }
    const cpu = process.cpuUsage(cpu0);
    return { seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  };
  // Round 1: every session's key record is new (Ed25519 check + X25519 per upload).
  const { seconds, cpuSeconds } = await ingest(await prepare('r1'));
  // Round 2, same sessions: the verified record and X25519 output are remembered per session.
  const second = await ingest(await prepare('r2'));
  if (accepted !== 2 * uploads) throw new Error(`ingest path: ${accepted} of ${2 * uploads} updates accepted`);
  const sealedBytes = uploads * (byteLength + count * SEAL_SUITE_OVERHEAD[suite]);
  return {
    bench: 'fleet-ingest',
    sealing: suite,
    numParams,
    uploads,
    chunkBytes,
    seconds: Math.round(seconds * 1000) / 1000,
    cpuSeconds: Math.round(cpuSeconds * 1000) / 1000,
    sealedMBPerSecond: Math.round((sealedBytes / seconds / 1e6) * 10) / 10,
    sealedMBPerCpuSecond: Math.round((sealedBytes / cpuSeconds / 1e6) * 10) / 10,
    cpuMsPerUpdate: Math.round((cpuSeconds / uploads) * 1e6) / 1000,
    // The same sessions' next round (key record and X25519 remembered per session).
    nextRoundSealedMBPerCpuSecond: Math.round((sealedBytes / second.cpuSeconds / 1e6) * 10) / 10,
    nextRoundCpuMsPerUpdate: Math.round((second.cpuSeconds / uploads) * 1e6) / 1000,
    what: 'UploadReceiver (key record check, key derivation, open into the update buffer, finite check per chunk) + WeightedMeanAggregator.add, in one process; sealing done beforehand; no socket.io',
  };
}
