export { migrate, loadMigrations, MIGRATIONS_DIR, type Migration } from './migrate';
export { readStream, streamHead, streamHeads, streamHeadsOf, pruneOutbox, streamsChangedSince, outboxReader, type ChangedStream, type OutboxReader } from './outbox';
export { ListenConnection, ListenConnectionError, type ListenConnectionOptions, type ListenConnectionEvents, type ListenErrorCode, type ListenLogger, type ListenState } from './listen-connection';
export { readMatches, MATCH_STATUSES, type MatchState, type MatchViewer } from './matches';
export { isTransientDbError } from './errors';
