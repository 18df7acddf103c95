import { z } from 'zod';
import { errorEnvelopeSchema, metricsSchema } from '@flock/protocol';

// zod schemas of the HTTP responses that had none (requests are parsed with theirs at the
// handlers). The OpenAPI document (openapi.ts) is generated from these and the handlers' own
// schemas, and test/serving-openapi.test.ts checks live responses against it.

const nonNegInt = z.number().int().nonnegative();
const time = z.string().describe('ISO 8601 time');

export const errorBodySchema = z.object({ error: errorEnvelopeSchema }).describe('A typed error (docs/reference/errors.md)');

export const statusSchema = z.object({
  ok: z.literal(true),
  federationId: z.string(),
  protocolVersion: z.number().int(),
  clients: nonNegInt.describe('clients with a live session'),
  round: nonNegInt.describe('rounds started so far'),
  activeRound: z
    .object({
      round: nonNegInt,
      kind: z.enum(['train', 'evaluate']),
      selected: nonNegInt.optional().describe('absent under differential privacy'),
      reported: nonNegInt.optional().describe('absent under differential privacy'),
    })
    .nullable(),
  modelVersion: nonNegInt,
  modelHash: z.string(),
  trainRoundsCommitted: nonNegInt,
});

export const adminStatusSchema = statusSchema.extend({
  auth: z.enum(['tokens', 'open']),
  roundsPaused: z.boolean(),
  settings: z.object({ rounds: z.number().int().positive(), fraction: z.number(), roundTimeoutMs: z.number().int().positive() }),
});

const reasonSchema = errorEnvelopeSchema;

export const publicRoundSchema = z.object({
  round: z.number().int().positive(),
  roundId: z.string(),
  kind: z.enum(['train', 'evaluate']),
  status: z.enum(['committed', 'abandoned', 'completed']),
  modelVersion: nonNegInt,
  modelHash: z.string(),
  reason: z.optional(reasonSchema),
  startedAt: time,
  seconds: z.number().nonnegative(),
});

export const roundSummarySchema = publicRoundSchema.extend({
  selected: z.array(z.string()),
  reporters: z.array(z.string()),
  rejected: z.array(z.object({ clientId: z.string(), code: z.string() })),
  numExamples: nonNegInt,
  metrics: metricsSchema,
  bytesUp: nonNegInt,
  bytesDown: nonNegInt,
});

export const roundsBodySchema = z.object({ rounds: z.array(z.union([roundSummarySchema, publicRoundSchema])).describe('the last 100 rounds; under differential privacy without cohorts, counts and metrics') });
export const adminRoundsBodySchema = z.object({ rounds: z.array(roundSummarySchema) });

export const modelJsonSchema = z.looseObject({
  format: z.literal('layers-model'),
  modelTopology: z.record(z.string(), z.unknown()),
  weightsManifest: z.array(z.object({ paths: z.array(z.string()), weights: z.array(z.object({ name: z.string(), shape: z.array(nonNegInt), dtype: z.literal('float32') })) })),
});

export const clientSchema = z.object({
  clientId: z.string(),
  publicKey: z.string().nullable(),
  tokenId: z.string().nullable(),
  enrolledAt: time.nullable(),
  revokedAt: time.nullable(),
  lastSeenAt: time.nullable(),
  online: z.boolean(),
});

export const tokenSchema = z.object({
  id: z.string(),
  label: z.string().nullable(),
  createdAt: time,
  expiresAt: time.nullable(),
  boundClientId: z.string().nullable(),
  revokedAt: time.nullable(),
  status: z.enum(['unused', 'bound', 'revoked', 'expired']),
});

export const mintedTokenSchema = z.object({ token: z.string().describe('flk_<id>.<secret>: shown once'), id: z.string(), expiresAt: time.nullable() });

export const servingEventSchema = z.object({
  id: z.number().int().positive(),
  at: time,
  action: z.enum(['initial', 'promote', 'rollback', 'hold']),
  version: nonNegInt,
  serving: nonNegInt,
  stack: z.array(nonNegInt),
  policy: z.string(),
  actor: z.string(),
  reason: z.string(),
  metrics: z.record(z.string(), z.number()),
});

export const servingStatusSchema = z.object({
  policy: z.enum(['always', 'manual', 'evaluated']),
  metric: z.string(),
  tolerance: z.number(),
  serving: nonNegInt,
  latest: nonNegInt,
  rollbackStack: z.array(nonNegInt).describe('versions a rollback returns to, newest first'),
  events: z.array(servingEventSchema).describe('newest first'),
});

export const servingChangeSchema = z.object({ event: servingEventSchema, serving: servingStatusSchema });

export const settingsBodySchema = z.object({ settings: adminStatusSchema.shape.settings });
