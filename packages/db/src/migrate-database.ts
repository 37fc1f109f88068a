import { sleep } from '@matchcast/runtime';
import pg from 'pg';
import { isConnectionError } from './errors';
import { DEFAULT_MIGRATE_TIMEOUTS, loadMigrations, migrate, type MigrateTimeouts, type Migration } from './migrate';
import { MigrationError } from './migration-error';

export interface MigrateDatabaseOptions extends MigrateTimeouts {
  url: string;
  /** Reconnects after a connection error before giving up (0 = one attempt only). */
  connectRetries: number;
  retryDelayMs: number;
  connectTimeoutMs: number;
  migrations?: Migration[];
  /** Called before each reconnect. */
  onRetry?: (retry: { attempt: number; error: unknown; delayMs: number }) => void;
}

export const DEFAULT_MIGRATE_DATABASE_OPTIONS = Object.freeze({
  ...DEFAULT_MIGRATE_TIMEOUTS,
  connectRetries: 60,
  retryDelayMs: 2_000,
  connectTimeoutMs: 5_000,
});

/**
 * Connects to `url` and applies the pending migrations. Only connection errors (refused, DNS,
 * server starting or shutting down, connection lost) are retried, a bounded number of times; an
 * SQL error, a changed migration or a timeout fails at once with a MigrationError.
 */
export async function migrateDatabase(options: MigrateDatabaseOptions): Promise<string[]> {
  const migrations = options.migrations ?? loadMigrations();
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await migrateOnce(options, migrations);
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      if (attempt > options.connectRetries) {
        throw new MigrationError(
          'MIGRATION_DB_UNAVAILABLE',
          `database unreachable after ${attempt} attempt(s) (MIGRATE_CONNECT_RETRIES=${options.connectRetries}): ${(error as Error).message}`,
          { cause: error },
        );
      }
      options.onRetry?.({ attempt, error, delayMs: options.retryDelayMs });
      await sleep(options.retryDelayMs);
    }
  }
}

async function migrateOnce(options: MigrateDatabaseOptions, migrations: Migration[]): Promise<string[]> {
  const client = new pg.Client({ connectionString: options.url, connectionTimeoutMillis: options.connectTimeoutMs });
  // A socket that dies between queries emits 'error'; the failing query reports it.
  client.on('error', () => undefined);
  try {
    await client.connect().catch((error: unknown) => {
      if (isConnectionError(error)) throw error;
      throw new MigrationError('MIGRATION_DB_REJECTED', `the database refused the connection: ${(error as Error).message}`, { cause: error });
    });
    return await migrate(client, migrations, options);
  } finally {
    await client.end().catch(() => undefined);
  }
}
