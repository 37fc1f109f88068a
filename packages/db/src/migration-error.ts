/**
 * Why a migration run stopped, as a stable code (logged by the CLI; docs/operations.md
 * "Migrations" says what to do about each). None of them is retried: running again gives the
 * same result until someone acts.
 */
export type MigrationErrorCode =
  /** The database could not be reached within MIGRATE_CONNECT_RETRIES attempts. */
  | 'MIGRATION_DB_UNAVAILABLE'
  /** The server refused the login or the database (wrong password, unknown user or database, no privilege). */
  | 'MIGRATION_DB_REJECTED'
  /** A migration's SQL failed; its transaction was rolled back. */
  | 'MIGRATION_SQL_FAILED'
  /** An applied migration's file changed (its sha256 differs from the recorded one). */
  | 'MIGRATION_CHECKSUM_MISMATCH'
  /** The migration lock (another migrator) or a table lock (a long transaction) was not granted in time. */
  | 'MIGRATION_LOCK_TIMEOUT'
  /** A migration statement ran past MIGRATE_STATEMENT_TIMEOUT_MS. */
  | 'MIGRATION_STATEMENT_TIMEOUT';

export class MigrationError extends Error {
  constructor(
    readonly code: MigrationErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MigrationError';
  }
}
