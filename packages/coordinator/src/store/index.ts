// Durable coordinator state (SQLite). See docs/explanation/durability.md.
export { openFederationDatabase, FederationDatabase } from './database.js';
export type { FederationRecord, RoundCommit } from './database.js';
export { SqliteModelStore } from './model-store.js';
export { RoundLog } from './rounds.js';
export type { RoundRecord, RoundStatus } from './rounds.js';
export { StrategyStateStore, hasPersistentState } from './strategy-state.js';
export type { PersistentStrategy } from './strategy-state.js';
export { UploadKeys } from './uploads.js';
export { SqliteClientRegistry } from './registry.js';
export { SqliteServingEvents } from './serving-events.js';
export { MIGRATIONS, SCHEMA_VERSION, migrate, schemaVersion } from './migrations.js';
export { openSqlite } from './sqlite.js';
