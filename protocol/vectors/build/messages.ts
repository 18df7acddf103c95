/**
 * Sample wire messages of protocol/v1.md: what a v1 receiver must accept and refuse, and the
 * exact socket.io frames of a sealed upload (how a binary field nested in an object travels).
 */
import { Encoder, PacketType } from 'socket.io-parser';
import { PROTOCOL_VERSION } from '@flock/protocol';
import { hex } from '../fixed-random.js';

export function messages(ctx: {
  welcomeSealKey: { publicKey: string; signature: string };
  coordinatorKey: string;
  keyRecord: string;
  chunk0: string;
  secagg: Record<string, unknown>;
  receipt: Record<string, unknown>;
}): Record<string, unknown> {
  const modelHash = '681fa796dadd58d376d48ac3362ef4dfb2acf11e0317540b7f2b9b0064ba1182';
  const spec = { format: 'flock-weights/v1', weights: [{ name: 'dense/kernel', shape: [2, 3], dtype: 'float32' }, { name: 'dense/bias', shape: [3], dtype: 'float32' }] };
  const upload = { roundId: '3-a1b2c3d4e5f6', uploadId: '00112233445566778899aabbccddeeff', modelVersion: 2, numExamples: 600, byteLength: 1032, chunkBytes: 1024 };
  const encoder = new Encoder();
  const frame = (id: number, data: unknown[]): { text: string; attachments: string[] } => {
    const [head, ...rest] = encoder.encode({ type: PacketType.EVENT, nsp: '/', id, data });
    return { text: `4${head as string}`, attachments: rest.map((b) => hex(b as Uint8Array)) };
  };
  return {
    about:
      'Sample v1 messages. `accept`: each MUST parse under its schema (protocol/v1.md 5); binary fields are given as hex and travel as socket.io binary attachments. `refuse`: each MUST be refused with BAD_MESSAGE naming `path`. `frames`: the exact engine.io text frame (engine.io type 4 + socket.io packet) and binary frames of a round:upload with its key record and of one sealed round:chunk.',
    source:
      'protocol/vectors/generate.ts (build/messages.ts): the messages are written by hand from protocol/v1.md with keys and ciphertexts from seal-keys.json, sealed-chunk.json, secagg-round.json and receipts.json; the frames are socket.io-parser 4.2 Encoder output (the encoder of the reference coordinator and SDK) for ack ids 7 and 8.',
    accept: [
      {
        event: 'federation:welcome',
        payload: {
          federationId: 'fed-vectors-α',
          protocolVersion: PROTOCOL_VERSION,
          clientId: 'client-7',
          modelVersion: 0,
          modelHash,
          modelPath: '/v1/models/0',
          spec,
          coordinatorKey: ctx.coordinatorKey,
          accessToken: 'kq9V0Qm3cGJ6Qx1dW7tT0s1r8kVn6b2y',
          sealKey: ctx.welcomeSealKey,
          uploads: { chunkBytes: 262144, sealRequired: true },
        },
      },
      {
        event: 'round:start',
        about: 'with fields v1 does not define (a receiver ignores them)',
        payload: { roundId: '3-a1b2c3d4e5f6', round: 3, kind: 'train', modelVersion: 2, modelHash, modelPath: '/v1/models/2', deadline: 1795619203211, timeoutMs: 60000, config: { epochs: 1, batchSize: 32, learningRate: 0.05, privacy: { mode: 'local', clip: 1, noiseStddev: 0.5 }, futureOption: 3 }, future: { any: 'thing' } },
      },
      {
        event: 'round:start',
        payload: { roundId: '5-0a1b2c3d4e5f', round: 5, kind: 'train', modelVersion: 4, modelHash, modelPath: '/v1/models/4', deadline: 1795619263211, timeoutMs: 60000, config: { epochs: 1, batchSize: 32, learningRate: 0.05 }, secagg: ctx.secagg },
      },
      { event: 'round:upload', payload: { ...upload, metrics: { loss: 0.41 }, seal: ctx.keyRecord }, binary: ['seal'] },
      { event: 'round:chunk', payload: { roundId: upload.roundId, uploadId: upload.uploadId, index: 0 } },
      { event: 'round:evaluate', payload: { roundId: '2-28fa1319749f', modelVersion: 1, numExamples: 50, loss: 0.7, accuracy: 0.8 } },
      { event: 'round:decline', payload: { roundId: '2-28fa1319749f', reason: 'on battery' } },
      {
        event: 'round:end',
        about: 'a confidential round (protocol/v1.md 7.8): no metrics; the receipt names this round:end', payload: { roundId: '12-00aa11bb22cc', round: 12, kind: 'train', status: 'committed', modelVersion: 9, modelHash, metrics: {}, receipt: ctx.receipt },
      },
      {
        event: 'round:end',
        payload: { roundId: '7-5e5e5e5e5e5e', round: 7, kind: 'train', status: 'abandoned', modelVersion: 4, modelHash, reason: { code: 'TOO_FEW_REPORTS', message: '1 of 3 selected clients reported; the round needs 3', details: { reported: 1, selected: 3, required: 3 } }, metrics: {} },
      },
      { event: 'federation:done', payload: { federationId: 'fed-vectors-α', rounds: 5, modelVersion: 5, modelHash, modelPath: '/v1/models/5' } },
      { event: 'ack', payload: { ok: true } },
      { event: 'ack', payload: { ok: false, error: { code: 'UPLOAD_REJECTED', message: 'chunk 3 arrived; chunk 2 is next', details: { reason: 'out-of-order', expected: 2 } } } },
    ],
    refuse: [
      { event: 'round:upload', about: 'a key record of 127 bytes', payload: { ...upload, seal: ctx.keyRecord.slice(2) }, binary: ['seal'], path: 'seal' },
      { event: 'round:upload', about: 'an upload id in uppercase', payload: { ...upload, uploadId: upload.uploadId.toUpperCase() }, path: 'uploadId' },
      { event: 'round:upload', about: 'chunks below 1024 bytes', payload: { ...upload, chunkBytes: 512 }, path: 'chunkBytes' },
      { event: 'round:chunk', about: 'a negative index', payload: { roundId: upload.roundId, uploadId: upload.uploadId, index: -1 }, path: 'index' },
      { event: 'round:update', about: 'numExamples 0', payload: { roundId: upload.roundId, modelVersion: 2, numExamples: 0 }, path: 'numExamples' },
      { event: 'round:evaluate', about: 'accuracy above 1', payload: { roundId: '2-28fa1319749f', modelVersion: 1, numExamples: 50, loss: 0.7, accuracy: 1.5 }, path: 'accuracy' },
      { event: 'round:decline', about: 'no roundId', payload: { reason: 'x' }, path: 'roundId' },
      { event: 'federation:done', about: 'a negative round count', payload: { federationId: 'default', rounds: -1, modelVersion: 5, modelHash, modelPath: '/v1/models/5' }, path: 'rounds' },
    ],
    frames: {
      upload: { ack: 7, ...frame(7, ['round:upload', { ...upload, seal: Buffer.from(ctx.keyRecord, 'hex') }]) },
      chunk: { ack: 8, ...frame(8, ['round:chunk', { roundId: upload.roundId, uploadId: upload.uploadId, index: 0 }, Buffer.from(ctx.chunk0, 'hex')]) },
    },
  };
}
