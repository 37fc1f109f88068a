export { migrate, loadMigrations, MIGRATIONS_DIR, DEFAULT_MIGRATE_TIMEOUTS, type Migration, type MigrateTimeouts } from './migrate';
export { readStream, streamHead, streamHeads, streamHeadsOf, pruneOutbox, streamsChangedSince, outboxReader, type ChangedStream, type OutboxReader } from './outbox';
export { ListenConnection, ListenConnectionError, type ListenConnectionOptions, type ListenConnectionEvents, type ListenErrorCode, type ListenLogger, type ListenState } from './listen-connection';
export { NotifyKeys, NOTIFY_KEYS_QUERY } from './notify-keys';
export { readMatches, MATCH_STATUSES, type MatchState, type MatchViewer } from './matches';
export { isConnectionError, isLostRace, isTransientDbError, unavailable } from './errors';
export { migrateDatabase, DEFAULT_MIGRATE_DATABASE_OPTIONS, type MigrateDatabaseOptions } from './migrate-database';
export { MigrationError, type MigrationErrorCode } from './migration-error';
export { inTransaction, withClient } from './pool-client';
