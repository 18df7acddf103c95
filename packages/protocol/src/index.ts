// Public API of @flock/protocol (wire protocol v1, see protocol/v1.md).
export { PROTOCOL_VERSION } from './version.js';
export { ERROR_CODES, errorCodeSchema, errorEnvelopeSchema, FlockError, badMessage } from './errors.js';
export type { ErrorCode, ErrorEnvelope } from './errors.js';
export { EVENTS, CLIENT_EVENTS } from './events.js';
export type { EventName } from './events.js';
export {
  clientIdSchema,
  roundIdSchema,
  handshakeAuthSchema,
  weightSpecSchema,
  modelSpecSchema,
  welcomeSchema,
  sealSuiteIdSchema,
  trainConfigSchema,
  roundStartSchema,
  metricsSchema,
  updateMetaSchema,
  binarySchema,
  evaluateReportSchema,
  declineSchema,
  ackSchema,
  roundEndSchema,
  federationDoneSchema,
  modelInfoSchema,
} from './messages.js';
export type {
  HandshakeAuth,
  WeightSpec,
  ModelSpec,
  Welcome,
  TrainConfig,
  RoundStart,
  UpdateMeta,
  EvaluateReport,
  Decline,
  Ack,
  RoundEnd,
  FederationDone,
  ModelInfo,
} from './messages.js';
export { bytesSchema, bytesOfLength, isBinary, toBytes } from './binary.js';
export type { BinaryInput } from './binary.js';
export { specSize, canonicalSpec, encodeFloat32, decodeFloat32, asBytes, firstNonFinite, hashModel, hashModelAsync } from './tensor-codec.js';
export {
  SECAGG_MAX_NEIGHBOURS,
  SECAGG_MAX_COHORT,
  SECAGG_SHARE_CIPHERTEXT_BYTES,
  SECAGG_SHARE_BYTES,
  SECAGG_EVENTS,
  secAggAdvertiseKeysSchema,
  secAggRosterSchema,
  secAggShareKeysSchema,
  secAggShareDeliverySchema,
  secAggMaskedInputSchema,
  secAggUnmaskRequestSchema,
  secAggUnmaskResponseSchema,
  secAggConfigSchema,
} from './secagg.js';
export type {
  SecAggAdvertiseKeys,
  SecAggRoster,
  SecAggShareKeys,
  SecAggShareDelivery,
  SecAggMaskedInput,
  SecAggUnmaskRequest,
  SecAggUnmaskResponse,
  SecAggConfig,
} from './secagg.js';
export {
  SECAGG_KEY_RECORD_BYTES,
  wireAdvertiseSchema,
  wireRosterSchema,
  wireSharesSchema,
  wireMaskedInputSchema,
  wireUnmaskSchema,
  packAdvertise,
  unpackAdvertise,
  packRoster,
  unpackRoster,
  packShares,
  unpackShares,
  packMaskedInput,
  unpackMaskedInput,
  packUnmask,
  unpackUnmask,
} from './secagg-wire.js';
export { AUTH_DOMAIN, AUTH_CHALLENGE_PATH, authChallengeSchema, enrollmentTokenSchema, handshakeCredentialSchema, authSignedMessage } from './auth.js';
export type { AuthChallenge, HandshakeCredential } from './auth.js';
export {
  UPLOAD_EVENTS,
  DEFAULT_CHUNK_BYTES,
  MIN_CHUNK_BYTES,
  MAX_CHUNK_BYTES,
  SEAL_OVERHEAD_BYTES,
  SEAL_SUITE_IDS,
  SEAL_SUITE_OVERHEAD_BYTES,
  SEAL_KEY_RECORD_BYTES,
  CHUNK_ENVELOPE_BYTES,
  uploadIdSchema,
  uploadBeginSchema,
  uploadChunkSchema,
  chunkCount,
  chunkPlainLength,
} from './uploads.js';
export type { UploadBegin, UploadChunk } from './uploads.js';
