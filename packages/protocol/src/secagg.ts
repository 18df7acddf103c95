/**
 * Wire schemas of the SecAgg+ stage messages (protocol/secagg.md). Binary fields parse to
 * Uint8Array from whatever the transport delivered (Node: Buffer; browsers: ArrayBuffer), see
 * binary.ts. Sizes are checked here; the engine in @flock/privacy re-checks everything it uses.
 */
import * as z from 'zod/mini';
import { bytesOfLength, bytesSchema } from './binary.js';

/** Upper bounds of list sizes: neighbourhoods have at most 255 members (GF(2^8) Shamir). */
export const SECAGG_MAX_NEIGHBOURS = 255;
export const SECAGG_MAX_COHORT = 65_536;

/**
 * Binary field: Uint8Array, Buffer, ArrayBuffer or a typed-array view in, plain `Uint8Array`
 * (ArrayBufferLike) out, so parsed messages are assignable to the engine's message types and to
 * views into larger buffers.
 */
export const secAggBinarySchema = bytesSchema;
const bytes = (n: number) => bytesOfLength(n);
const secaggClientId = z.string().check(z.minLength(1), z.maxLength(128));
const header = {
  session: z.string().check(z.minLength(1), z.maxLength(128)),
  round: z.int().check(z.nonnegative(), z.lte(Number.MAX_SAFE_INTEGER)),
};

/** Share bundle: nonce(24) | box(SHA-256(context)(32) | maskKeyShare(33) | selfSeedShare(33)) + MAC(16). */
export const SECAGG_SHARE_CIPHERTEXT_BYTES = 24 + 16 + 32 + 33 + 33;
/** A Shamir share of a 32-byte secret: 32 bytes plus the x-coordinate. */
export const SECAGG_SHARE_BYTES = 33;

export const secAggAdvertiseKeysSchema = z.object({
  stage: z.literal('advertise-keys'),
  ...header,
  clientId: secaggClientId,
  identityKey: bytes(32),
  encryptionKey: bytes(32),
  maskKey: bytes(32),
  selfSeedCommitment: bytes(32),
  signature: bytes(64),
});
export type SecAggAdvertiseKeys = z.infer<typeof secAggAdvertiseKeysSchema>;

export const secAggRosterSchema = z.object({
  stage: z.literal('roster'),
  ...header,
  entries: z.array(secAggAdvertiseKeysSchema).check(z.minLength(1), z.maxLength(SECAGG_MAX_COHORT)),
});
export type SecAggRoster = z.infer<typeof secAggRosterSchema>;

const encryptedShare = z.object({ peer: secaggClientId, ciphertext: bytes(SECAGG_SHARE_CIPHERTEXT_BYTES) });

export const secAggShareKeysSchema = z.object({
  stage: z.literal('share-keys'),
  ...header,
  clientId: secaggClientId,
  shares: z.array(encryptedShare).check(z.minLength(1), z.maxLength(SECAGG_MAX_NEIGHBOURS)),
});
export type SecAggShareKeys = z.infer<typeof secAggShareKeysSchema>;

export const secAggShareDeliverySchema = z.object({
  stage: z.literal('share-delivery'),
  ...header,
  clientId: secaggClientId,
  shares: z.array(encryptedShare).check(z.maxLength(SECAGG_MAX_NEIGHBOURS)),
});
export type SecAggShareDelivery = z.infer<typeof secAggShareDeliverySchema>;

/** `masked`: 4m bytes, uint32 little-endian; m is fixed by the round configuration. */
export const secAggMaskedInputSchema = z.object({
  stage: z.literal('masked-input'),
  ...header,
  clientId: secaggClientId,
  masked: secAggBinarySchema.check(z.refine((b) => b.length > 0 && b.length % 4 === 0, { message: 'must be a non-empty multiple of 4 bytes' })),
});
export type SecAggMaskedInput = z.infer<typeof secAggMaskedInputSchema>;

export const secAggUnmaskRequestSchema = z.object({
  stage: z.literal('unmask-request'),
  ...header,
  survivors: z.array(secaggClientId).check(z.minLength(1), z.maxLength(SECAGG_MAX_COHORT)),
  dropped: z.array(secaggClientId).check(z.maxLength(SECAGG_MAX_COHORT)),
});
export type SecAggUnmaskRequest = z.infer<typeof secAggUnmaskRequestSchema>;

const revealedShare = z.object({ owner: secaggClientId, share: bytes(SECAGG_SHARE_BYTES) });

export const secAggUnmaskResponseSchema = z.object({
  stage: z.literal('unmask'),
  ...header,
  clientId: secaggClientId,
  selfSeedShares: z.array(revealedShare).check(z.maxLength(SECAGG_MAX_NEIGHBOURS)),
  maskKeyShares: z.array(revealedShare).check(z.maxLength(SECAGG_MAX_NEIGHBOURS)),
});
export type SecAggUnmaskResponse = z.infer<typeof secAggUnmaskResponseSchema>;

/** SecAgg+ parameters a `round:start` carries (fixed for the round). */
export const secAggConfigSchema = z.object({
  session: header.session,
  /** Requested neighbourhood size; the full graph is used when the roster has <= k + 1 clients. */
  k: z.int().check(z.gte(2), z.lte(SECAGG_MAX_NEIGHBOURS)),
  /** Shamir threshold, floor(k/2)+1 <= t <= k. */
  t: z.int().check(z.gte(2), z.lte(SECAGG_MAX_NEIGHBOURS)),
  /** Length m of the aggregated uint32 vector (quantized update, plus 1 for weighted FedAvg). */
  vectorLength: z.int().check(z.positive(), z.lte(2 ** 29)),
  /** Quantization: per-coordinate clip and the cohort bound n_max of the overflow guarantee. */
  clip: z.number().check(z.positive()),
  nMax: z.int().check(z.positive(), z.lte(2 ** 20)),
  /** Weighted FedAvg: a client multiplies its clipped delta by min(examples, weightCap) and appends that weight. */
  weightCap: z.int().check(z.positive(), z.lte(2 ** 20)),
  /**
   * Differential privacy (central or distributed mode): the update is encoded alone (no weight
   * element, vectorLength = the number of parameters) by conditional randomized rounding
   * (protocol/secagg.md 4.5): L2 clip `clip`, `scale` lattice units per model unit, every
   * encoding's L2 norm <= `bound` (Delta2, which the client recomputes and must match). `clip`
   * and `weightCap` above are then unused.
   */
  dp: z.optional(
    z.object({
      clip: z.number().check(z.positive()),
      scale: z.number().check(z.positive()),
      bound: z.number().check(z.positive()),
      /**
       * Distributed mode: the number of survivors the noise is calibrated to, when it is not
       * `t` (grouped SecAgg+ across fleet nodes: the guaranteed survivors of the whole cohort,
       * of which this round's group is a part; protocol/secagg.md 4.5). Absent: `t`.
       */
      summands: z.optional(z.int().check(z.positive(), z.lte(2 ** 20))),
    }),
  ),
  /** Per-stage deadlines, milliseconds after the stage opens. */
  deadlinesMs: z.object({
    advertiseKeys: z.int().check(z.positive()),
    shareKeys: z.int().check(z.positive()),
    maskedInput: z.int().check(z.positive()),
    unmask: z.int().check(z.positive()),
  }),
})
  .check(z.refine((c) => c.t >= Math.floor(c.k / 2) + 1 && c.t <= c.k, { message: 't must satisfy floor(k/2)+1 <= t <= k', path: ['t'] }))
  .check(z.refine((c) => c.dp?.summands === undefined || c.dp.summands >= c.t, { message: 'dp.summands must be >= t (the whole cohort includes this group)', path: ['dp', 'summands'] }));
export type SecAggConfig = z.infer<typeof secAggConfigSchema>;

/** Event names of the SecAgg stages (C->S with ack unless noted). */
export const SECAGG_EVENTS = {
  advertiseKeys: 'secagg:advertise-keys',
  /** S->C */
  roster: 'secagg:roster',
  shareKeys: 'secagg:share-keys',
  /** S->C */
  shareDelivery: 'secagg:share-delivery',
  maskedInput: 'secagg:masked-input',
  /** S->C */
  unmaskRequest: 'secagg:unmask-request',
  unmask: 'secagg:unmask',
} as const;
