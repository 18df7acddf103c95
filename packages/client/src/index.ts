// Public API of @flock/client, the SDK apps embed. Isomorphic: no Node-only imports.
export { FlockClient } from './client.js';
export type { FlockClientOptions } from './client.js';
export type { FlockClientEvents, RoundReport, RoundPhases } from './events.js';
export { defaultPlatform } from './platform.js';
export type { ClientPlatform } from './platform.js';
export { indexedDbIdentityStore, memoryIdentityStore } from './identity.js';
export type { IdentityStore, StoredIdentity } from './identity.js';
export type { LocalData, TensorData } from './data.js';
export { fitProximal, PROXIMAL_LOSSES } from './fedprox.js';
export type { FitProximalOptions, FitProximalResult } from './fedprox.js';
export type { DropStage } from './secure-session.js';
export { noiseSummands } from './secure-session.js';
export { ReceiptChecker, checkReceipt } from './receipts.js';
export type { ReceiptContext } from './receipts.js';
export { UploadSealer, uploadUpdate } from './upload.js';
export type { UploadOptions } from './upload.js';
export { buildHandshakeAuth } from './auth.js';
export type { HandshakeInput } from './auth.js';
