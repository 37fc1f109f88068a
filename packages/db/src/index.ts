export { migrate, loadMigrations, MIGRATIONS_DIR, type Migration } from './migrate';
export { readStream, readEvent, streamHeads, oldestSeq } from './outbox';
