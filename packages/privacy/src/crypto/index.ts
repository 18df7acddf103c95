// Crypto building blocks of @flock/privacy (isomorphic). Explicit public names only.
export type { PlatformCrypto } from '../platform/types.js';
export { webPlatform } from '../platform/web.js';
export { defaultPlatform } from '../platform/default.js';
export { sha256 } from './hash.js';
export { lengthPrefixed, equalBytes, isAllZero, toHex, fromHex } from './bytes.js';
export { generateIdentityKeyPair, signDetached, verifyDetached } from './sign.js';
export type { IdentityKeyPair } from './sign.js';
export { generateBoxKeyPair, deriveBoxKey, sealBound, openBound, sealedLength } from './box.js';
export { x25519Shared } from './dh.js';
export type { BoxKeyPair, OpenResult } from './box.js';
export {
  deriveCoordinatorSealKey,
  announceCoordinatorSealKey,
  verifyCoordinatorSealKey,
  coordinatorSealKeyMessage,
  clientSealKeyMessage,
  sealedChunkContext,
  clientSealKeyRecord,
  checkClientSealKeyRecord,
  sealSharedKey,
  sealChunk,
  openChunk,
} from './sealed-update.js';
export type { SealedUploadContext, KeyRecordCheck, OpenChunkResult } from './sealed-update.js';
export {
  SEAL_SUITE_AEAD,
  SEAL_SUITE_LEGACY,
  SEAL_SUITES,
  SEAL_SUITE_OVERHEAD,
  isSealSuite,
  coordinatorSuitesMessage,
  announceSealSuites,
  verifyCoordinatorSuites,
  chooseSealSuite,
  aeadSalt,
  aeadInfo,
  aeadNonce,
  aeadChunkAad,
  deriveUploadKey,
  uploadKeyFromShared,
  sealChunkAead,
  openChunkAead,
} from './seal-suites.js';
export type { SealSuite } from './seal-suites.js';
