// Durable coordinator state: SQLite (single node, the default) and PostgreSQL (fleets) behind
// one interface (types.ts). See docs/explanation/durability.md.
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
export { drive, isPromiseLike } from './types.js';
export type { Awaitable, FederationStore, DurableModelStore, RoundLogStore, StrategyStateReader, UploadKeyStore, StoreLock } from './types.js';
export { CoordinatorLock } from './lock.js';
export { openPostgresStore, PgFederationStore } from './pg/database.js';
export { PgModelStore, PG_CACHED_VERSIONS } from './pg/model-store.js';
export { PgClientRegistry } from './pg/registry.js';
export { PG_MIGRATIONS, migratePg, pgSchemaVersion } from './pg/migrations.js';
export { redactUrl } from './pg/connection.js';
export type { PgConnectOptions } from './pg/connection.js';
