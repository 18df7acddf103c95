import * as z from 'zod/mini';
import { errorEnvelopeSchema } from './errors.js';
import { secAggConfigSchema } from './secagg.js';
import { bytesSchema } from './binary.js';

const hex64 = z.string().check(z.regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters (SHA-256)'));
const finite = z.number();
const nonNegInt = z.int().check(z.nonnegative(), z.lte(Number.MAX_SAFE_INTEGER));
const posInt = z.int().check(z.positive(), z.lte(Number.MAX_SAFE_INTEGER));

/** Client ids: printable, URL-safe, bounded. */
export const clientIdSchema = z.string().check(z.minLength(1), z.maxLength(128), z.regex(/^[A-Za-z0-9._:-]+$/, 'use letters, digits and . _ : -'));
export const roundIdSchema = z.string().check(z.minLength(1), z.maxLength(64));

/** socket.io handshake `auth` payload. */
export const handshakeAuthSchema = z.object({
  protocolVersion: z.int(),
  clientId: clientIdSchema,
  credential: z.optional(z.string().check(z.maxLength(4096))),
  /**
   * Client authentication (auth.ts, protocol/v1.md 3.1): identity key, challenge nonce, signature,
   * enrollment token. The key and signature formats are part of the schema (BAD_MESSAGE in any
   * mode, protocol/v1.md 3.3 step 2), not a credential check.
   */
  publicKey: z.optional(z.string().check(z.regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters (an Ed25519 public key)'))),
  nonce: z.optional(z.string().check(z.maxLength(128))),
  signature: z.optional(z.string().check(z.regex(/^[0-9a-f]{128}$/, 'must be 128 lowercase hex characters (an Ed25519 signature)'))),
  token: z.optional(z.string().check(z.maxLength(256))),
});
export type HandshakeAuth = z.infer<typeof handshakeAuthSchema>;

export const weightSpecSchema = z.object({
  name: z.string().check(z.minLength(1), z.maxLength(256)),
  shape: z.array(z.int().check(z.nonnegative())).check(z.maxLength(8)),
  dtype: z.literal('float32'),
});
export type WeightSpec = z.infer<typeof weightSpecSchema>;

/** The ordered list of weights a model has; the binary payload follows this order. */
export const modelSpecSchema = z.object({
  format: z.literal('flock-weights/v1'),
  weights: z.array(weightSpecSchema).check(z.minLength(1), z.maxLength(10_000)),
});
export type ModelSpec = z.infer<typeof modelSpecSchema>;

/** A sealing suite name (5.4a): lowercase letters, digits and dashes; unknown names are ignored by clients. */
export const sealSuiteIdSchema = z.string().check(z.regex(/^[a-z0-9-]{1,64}$/, 'must be 1-64 lowercase letters, digits or dashes'));

/** S->C `federation:welcome`. */
export const welcomeSchema = z.object({
  federationId: z.string(),
  protocolVersion: z.int(),
  clientId: clientIdSchema,
  modelVersion: nonNegInt,
  modelHash: hex64,
  /** Path of the model on the coordinator's HTTP API, e.g. `/v1/models/3`. */
  modelPath: z.string(),
  spec: modelSpecSchema,
  /** The coordinator's Ed25519 public key (hex): it signs privacy receipts. */
  coordinatorKey: z.optional(hex64),
  /** Bearer token for the HTTP API while this session lives (private model endpoints). */
  accessToken: z.optional(z.string().check(z.maxLength(128))),
  /** Sealed updates (protocol/v1.md 5.4a): the coordinator's X25519 key, signed by coordinatorKey. */
  sealKey: z.optional(
    z.object({
      publicKey: hex64,
      signature: z.string().check(z.regex(/^[0-9a-f]{128}$/)),
      /** The sealing suites the coordinator accepts, best first (5.4a); absent: only the legacy suite. */
      suites: z.optional(z.array(sealSuiteIdSchema).check(z.minLength(1), z.maxLength(8))),
      /** Ed25519 by coordinatorKey over the suite list (REQUIRED with `suites`): a network attacker cannot edit it. */
      suitesSignature: z.optional(z.string().check(z.regex(/^[0-9a-f]{128}$/))),
    }),
  ),
  /** Chunked updates: the largest plaintext chunk accepted, and whether plaintext updates are refused. */
  uploads: z.optional(z.object({ chunkBytes: z.int().check(z.gte(1024), z.lte(16 * 1024 * 1024)), sealRequired: z.boolean() })),
});
export type Welcome = z.infer<typeof welcomeSchema>;

/** Local training settings a round asks for. */
export const trainConfigSchema = z.object({
  epochs: posInt.check(z.lte(1000)),
  batchSize: posInt.check(z.lte(65_536)),
  learningRate: finite.check(z.positive()),
  momentum: z.optional(finite.check(z.gte(0), z.lte(1))),
  /** FedProx proximal term mu (0 = plain FedAvg). */
  proximalMu: z.optional(finite.check(z.gte(0))),
  /** Train on at most this many local examples per round (0 or absent = all). */
  maxExamples: z.optional(nonNegInt),
  /**
   * Differential privacy: the client clips its delta to L2 norm `clip` and, in `local` mode,
   * adds Gaussian noise of stddev `noiseStddev` before sending (docs/explanation/differential-privacy.md).
   */
  privacy: z.optional(
    z.object({
      mode: z.enum(['central', 'local', 'distributed']),
      clip: finite.check(z.positive()),
      /** local: the stddev each client adds (noiseMultiplier * clip). */
      noiseStddev: z.optional(finite.check(z.gte(0))),
      /**
       * local: sigma, the noise is the exact discrete Gaussian on a grid (privacy/dp/grid-noise.ts);
       * distributed: sigma; each client adds sigma * Delta2 / sqrt(t) on the SecAgg lattice (Delta2 = secagg.dp.bound).
       */
      noiseMultiplier: z.optional(finite.check(z.gte(0))),
    }),
  ),
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
  secagg: z.optional(secAggConfigSchema),
});
export type RoundStart = z.infer<typeof roundStartSchema>;

/** Metric names a client may report are at most 48 characters (the coordinator prefixes train_/eval_). */
export const metricsSchema = z.record(z.string().check(z.maxLength(64)), finite).check(z.refine((m) => Object.keys(m).length <= 32, 'at most 32 metrics'));
export const clientMetricsSchema = z.record(z.string().check(z.minLength(1), z.maxLength(48)), finite).check(z.refine((m) => Object.keys(m).length <= 16, 'at most 16 metrics'));

/** C->S `round:update` first argument; the second argument is the binary delta. */
export const updateMetaSchema = z.object({
  roundId: roundIdSchema,
  modelVersion: nonNegInt,
  numExamples: posInt,
  metrics: z.optional(clientMetricsSchema),
});
export type UpdateMeta = z.infer<typeof updateMetaSchema>;

/** Binary payloads arrive as Buffer (Node) or ArrayBuffer/Uint8Array (browsers); parsed to a Uint8Array (binary.ts). */
export const binarySchema = bytesSchema;

/** C->S `round:evaluate`. */
export const evaluateReportSchema = z.object({
  roundId: roundIdSchema,
  modelVersion: nonNegInt,
  numExamples: posInt,
  loss: finite,
  accuracy: finite.check(z.gte(0), z.lte(1)),
});
export type EvaluateReport = z.infer<typeof evaluateReportSchema>;

/** C->S `round:decline`. */
export const declineSchema = z.object({ roundId: roundIdSchema, reason: z.string().check(z.maxLength(512)) });
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
  reason: z.optional(errorEnvelopeSchema),
  metrics: z.optional(metricsSchema),
  /** With differential privacy: a receipt of the round's privacy spend, signed by the coordinator key. */
  receipt: z.optional(z.object({ receipt: z.record(z.string(), z.unknown()), signature: z.string().check(z.regex(/^[0-9a-f]{128}$/)) })),
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
