export { migrate, loadMigrations, MIGRATIONS_DIR, type Migration } from './migrate';
export { readStream, readEvent, streamHeads, oldestSeq, pruneOutbox, streamsChangedSince } from './outbox';
export { ListenConnection, ListenConnectionError, type ListenConnectionOptions, type ListenConnectionEvents, type ListenErrorCode, type ListenLogger, type ListenState } from './listen-connection';
