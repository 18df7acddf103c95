import { z } from 'zod';
import { errorEnvelopeSchema } from './errors.js';
import { secAggConfigSchema } from './secagg.js';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters (SHA-256)');
const finite = z.number().finite();
const nonNegInt = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const posInt = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** Client ids: printable, URL-safe, bounded. */
export const clientIdSchema = z.string().min(1).max(128).regex(/^[A-Za-z0-9._:-]+$/, 'use letters, digits and . _ : -');
export const roundIdSchema = z.string().min(1).max(64);

/** socket.io handshake `auth` payload. */
export const handshakeAuthSchema = z.object({
  protocolVersion: z.number().int(),
  clientId: clientIdSchema,
  credential: z.string().max(4096).optional(),
  /**
   * Client authentication (auth.ts, protocol/v1.md 3.1): identity key, challenge nonce, signature,
   * enrollment token. The key and signature formats are part of the schema (BAD_MESSAGE in any
   * mode, protocol/v1.md 3.3 step 2), not a credential check.
   */
  publicKey: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters (an Ed25519 public key)').optional(),
  nonce: z.string().max(128).optional(),
  signature: z.string().regex(/^[0-9a-f]{128}$/, 'must be 128 lowercase hex characters (an Ed25519 signature)').optional(),
  token: z.string().max(256).optional(),
});
export type HandshakeAuth = z.infer<typeof handshakeAuthSchema>;

export const weightSpecSchema = z.object({
  name: z.string().min(1).max(256),
  shape: z.array(z.number().int().nonnegative()).max(8),
  dtype: z.literal('float32'),
});
export type WeightSpec = z.infer<typeof weightSpecSchema>;

/** The ordered list of weights a model has; the binary payload follows this order. */
export const modelSpecSchema = z.object({
  format: z.literal('flock-weights/v1'),
  weights: z.array(weightSpecSchema).min(1).max(10_000),
});
export type ModelSpec = z.infer<typeof modelSpecSchema>;

/** S->C `federation:welcome`. */
export const welcomeSchema = z.object({
  federationId: z.string(),
  protocolVersion: z.number().int(),
  clientId: clientIdSchema,
  modelVersion: nonNegInt,
  modelHash: hex64,
  /** Path of the model on the coordinator's HTTP API, e.g. `/v1/models/3`. */
  modelPath: z.string(),
  spec: modelSpecSchema,
  /** The coordinator's Ed25519 public key (hex): it signs privacy receipts. */
  coordinatorKey: hex64.optional(),
  /** Bearer token for the HTTP API while this session lives (private model endpoints). */
  accessToken: z.string().max(128).optional(),
  /** Sealed updates (protocol/v1.md 5.4a): the coordinator's X25519 key, signed by coordinatorKey. */
  sealKey: z.object({ publicKey: hex64, signature: z.string().regex(/^[0-9a-f]{128}$/) }).optional(),
  /** Chunked updates: the largest plaintext chunk accepted, and whether plaintext updates are refused. */
  uploads: z.object({ chunkBytes: z.number().int().min(1024).max(16 * 1024 * 1024), sealRequired: z.boolean() }).optional(),
});
export type Welcome = z.infer<typeof welcomeSchema>;

/** Local training settings a round asks for. */
export const trainConfigSchema = z.object({
  epochs: posInt.max(1000),
  batchSize: posInt.max(65_536),
  learningRate: finite.positive(),
  momentum: finite.min(0).max(1).optional(),
  /** FedProx proximal term mu (0 = plain FedAvg). */
  proximalMu: finite.min(0).optional(),
  /** Train on at most this many local examples per round (0 or absent = all). */
  maxExamples: nonNegInt.optional(),
  /**
   * Differential privacy: the client clips its delta to L2 norm `clip` and, in `local` mode,
   * adds Gaussian noise of stddev `noiseStddev` before sending (docs/explanation/differential-privacy.md).
   */
  privacy: z
    .object({
      mode: z.enum(['central', 'local', 'distributed']),
      clip: finite.positive(),
      /** local: the stddev each client adds (noiseMultiplier * clip). */
      noiseStddev: finite.min(0).optional(),
      /**
       * local: sigma, the noise is the exact discrete Gaussian on a grid (privacy/dp/grid-noise.ts);
       * distributed: sigma; each client adds sigma * Delta2 / sqrt(t) on the SecAgg lattice (Delta2 = secagg.dp.bound).
       */
      noiseMultiplier: finite.min(0).optional(),
    })
    .optional(),
});
export type TrainConfig = z.infer<typeof trainConfigSchema>;

/** S->C `round:start`. */
export const roundStartSchema = z.object({
  roundId: roundIdSchema,
  round: posInt,
  kind: z.enum(['train', 'evaluate']),
  modelVersion: nonNegInt,
  modelHash: hex64,
  modelPath: z.string(),
  /** Milliseconds since the Unix epoch after which reports are rejected. */
  deadline: nonNegInt,
  /** Milliseconds the client has from receipt (clock-skew-free form of the deadline). */
  timeoutMs: posInt,
  config: trainConfigSchema,
  /** Present when the round aggregates securely (SecAgg+, protocol/secagg.md): no round:update, the stages instead. */
  secagg: secAggConfigSchema.optional(),
});
export type RoundStart = z.infer<typeof roundStartSchema>;

/** Metric names a client may report are at most 48 characters (the coordinator prefixes train_/eval_). */
export const metricsSchema = z.record(z.string().max(64), finite).refine((m) => Object.keys(m).length <= 32, 'at most 32 metrics');
export const clientMetricsSchema = z.record(z.string().min(1).max(48), finite).refine((m) => Object.keys(m).length <= 16, 'at most 16 metrics');

/** C->S `round:update` first argument; the second argument is the binary delta. */
export const updateMetaSchema = z.object({
  roundId: roundIdSchema,
  modelVersion: nonNegInt,
  numExamples: posInt,
  metrics: clientMetricsSchema.optional(),
});
export type UpdateMeta = z.infer<typeof updateMetaSchema>;

/** Binary payloads arrive as Buffer (Node) or ArrayBuffer/Uint8Array (browsers). */
export const binarySchema = z.union([z.instanceof(Uint8Array), z.instanceof(ArrayBuffer)]);

/** C->S `round:evaluate`. */
export const evaluateReportSchema = z.object({
  roundId: roundIdSchema,
  modelVersion: nonNegInt,
  numExamples: posInt,
  loss: finite,
  accuracy: finite.min(0).max(1),
});
export type EvaluateReport = z.infer<typeof evaluateReportSchema>;

/** C->S `round:decline`. */
export const declineSchema = z.object({ roundId: roundIdSchema, reason: z.string().max(512) });
export type Decline = z.infer<typeof declineSchema>;

/** Every ack: success or the error envelope. */
export const ackSchema = z.union([
  z.object({ ok: z.literal(true) }),
  z.object({ ok: z.literal(false), error: errorEnvelopeSchema }),
]);
export type Ack = z.infer<typeof ackSchema>;

/** S->C `round:end`. */
export const roundEndSchema = z.object({
  roundId: roundIdSchema,
  round: posInt,
  kind: z.enum(['train', 'evaluate']),
  status: z.enum(['committed', 'abandoned', 'completed']),
  modelVersion: nonNegInt,
  modelHash: hex64,
  reason: errorEnvelopeSchema.optional(),
  metrics: metricsSchema.optional(),
  /** With differential privacy: a receipt of the round's privacy spend, signed by the coordinator key. */
  receipt: z.object({ receipt: z.record(z.string(), z.unknown()), signature: z.string().regex(/^[0-9a-f]{128}$/) }).optional(),
});
export type RoundEnd = z.infer<typeof roundEndSchema>;

/**
 * `federation:done` (S->C): the coordinator committed its configured number of training rounds
 * and starts no more (protocol/v1.md 5.9). Sent to every connected client when that happens and
 * to any client that connects afterwards, right after its welcome.
 */
export const federationDoneSchema = z.object({
  federationId: z.string(),
  /** Training rounds committed: the configured `rounds`. */
  rounds: nonNegInt,
  /** The final model's version, hash and path on the HTTP API (`/v1/models/<modelVersion>`). */
  modelVersion: nonNegInt,
  modelHash: hex64,
  modelPath: z.string(),
});
export type FederationDone = z.infer<typeof federationDoneSchema>;

/** HTTP `GET /v1/models/latest` and `/v1/models/:version`. */
export const modelInfoSchema = z.object({
  version: nonNegInt,
  hash: hex64,
  round: nonNegInt,
  metrics: metricsSchema,
  createdAt: z.string(),
  numParams: nonNegInt,
  modelJson: z.string(),
  weights: z.string(),
});
export type ModelInfo = z.infer<typeof modelInfoSchema>;
