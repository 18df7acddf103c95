// Secure aggregation (SecAgg+): explicit public exports.
export { SecAggClient } from './client.js';
export type { SecAggClientOptions, SecAggRoundParams } from './client.js';
export { SecAggServer } from './server.js';
export type { SecAggServerOptions, SecAggStatus, ServerStage, SecAggMisbehaviour } from './server.js';
export { SecAggError, isSecAggError } from './errors.js';
export type { SecAggErrorCode } from './errors.js';
export type {
  AdvertiseKeysMessage,
  RosterMessage,
  EncryptedShare,
  ShareKeysMessage,
  ShareDeliveryMessage,
  MaskedInputMessage,
  UnmaskRequestMessage,
  RevealedShare,
  UnmaskResponseMessage,
  SecAggClientMessage,
  SecAggServerMessage,
} from './messages.js';
export { Quantizer, WeightedEncoder, MAX_NMAX } from './quantize.js';
export {
  DpQuantizer,
  DP_OVERFLOW_PROBABILITY,
  DP_ROUNDING_BETA,
  MAX_ROUNDING_INFLATION,
  planDpQuantization,
  RING_BOUND,
  roundedL2Bound,
} from './dp-quantize.js';
export type { DpQuantizationParams, DpQuantizationPlan, DpQuantizerOptions } from './dp-quantize.js';
export type { QuantizerOptions, WeightedEncoderOptions, WeightedAggregate, RealVector } from './quantize.js';
export { defaultThreshold, minThreshold } from './shamir.js';
export { buildNeighbourGraph, graphSeed, componentsAmong } from './graph.js';
export type { NeighbourGraph } from './graph.js';
export { pairwiseSeed, selfSeedCommitment } from './kdf.js';
export { expandMask, applyMasks, MAX_MASK_LENGTH } from './prg.js';
export { addInto, subInto, u32ToBytesLE, bytesLEToU32 } from './ring.js';
export { secAggParameters, DEFAULT_DROPOUT_RATE, DEFAULT_CORRUPTION_RATE, DEFAULT_SIGMA, DEFAULT_ETA } from './params.js';
export type { SecAggParameters, SecAggParameterOptions } from './params.js';
export { simulateSecAggRound, messageBytes } from './simulate.js';
export type { SimulatedRoundOptions, SimulatedRoundResult, StageSeconds } from './simulate.js';
