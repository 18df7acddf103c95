// Public API of @flock/privacy. Each area keeps an explicit list of its public names
// in its own barrel (dp/index.ts, secagg/index.ts, crypto/index.ts).
export * from './dp/index.js';
export * from './secagg/index.js';
export * from './crypto/index.js';
