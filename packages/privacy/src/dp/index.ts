// Differential privacy: explicit public exports are listed here.

// Accounting
export { computeEpsilon, computeSigma, RdpAccountant } from './accountant.js';
export type {
  AccountingOptions,
  AccountantEvent,
  ComputeEpsilonParams,
  ComputeSigmaParams,
  RdpAccountantJSON,
  Subsampling,
} from './accountant.js';
export { epsilonFromRdp } from './conversion.js';
export type { Conversion, EpsilonResult } from './conversion.js';
export { ORDER_GRIDS, DEFAULT_ORDER_GRID } from './orders.js';
export type { OrderGridName } from './orders.js';
export { rdpSubsampledGaussian, rdpPoissonSubsampledGeneral, rdpSubsampledDistributedGaussian } from './rdp.js';

// Noise
export {
  DiscreteGaussianSampler,
  MAX_DISCRETE_SIGMA,
  sampleDiscreteGaussian,
  sampleDiscreteGaussianVector,
} from './discrete-gaussian.js';
export { varianceToRational } from './rational.js';
export type { Rational } from './rational.js';
export { addGaussianNoise, sampleGaussian, sampleGaussianVector } from './gaussian.js';
export { addGridGaussianNoise, GRID_NOISE_UNITS, planGridNoise } from './grid-noise.js';
export type { GridNoisePlan } from './grid-noise.js';

// Clipping
export { clipL2, l2Norm } from './clip.js';
export type { ClipResult } from './clip.js';
export { AdaptiveClipper, adaptiveClipUpdate, COUNT_SENSITIVITY, updateNoiseMultiplier } from './adaptive-clip.js';
export type { AdaptiveClipOptions, AdaptiveClipRound, AdaptiveClipStep } from './adaptive-clip.js';

// Modes
export { DP_MODES, planNoise } from './distributed.js';
export type { DpMode, NoisePlan, NoisePlanParams } from './distributed.js';
export { distributedGaussianTau, distributedLocalStddev, distributedNoiseMultiplier } from './ddgauss.js';
export type { DistributedNoiseParams } from './ddgauss.js';

// Receipts
export {
  canonicalReceiptBytes,
  PrivacyReceiptSchema,
  RECEIPT_DOMAIN,
  SignedReceiptSchema,
  signReceipt,
  verifyReceipt,
} from './receipt.js';
export type { PrivacyReceipt, SignedReceipt } from './receipt.js';
export { addLatticeNoise } from './lattice-noise.js';
