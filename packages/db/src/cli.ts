#!/usr/bin/env node
/**
 * `node packages/db/dist/cli.js` — applies migrations to $DATABASE_URL (the schema owner's login,
 * not a service's). Exits 0 when the schema is current, 1 with a stable error code otherwise.
 */
import { ConfigError, createLogger, EnvReader, LOG_LEVELS, POSTGRES_PROTOCOLS } from '@matchcast/runtime';
import { DEFAULT_MIGRATE_DATABASE_OPTIONS as DEFAULTS, migrateDatabase, type MigrateDatabaseOptions } from './migrate-database';
import { MigrationError } from './migration-error';

/** The migrator's settings; docs/configuration.md "Migrations" lists them. */
export function loadMigrateConfig(env: EnvReader): MigrateDatabaseOptions {
  return {
    url: env.requiredUrl('DATABASE_URL', POSTGRES_PROTOCOLS),
    connectRetries: env.int('MIGRATE_CONNECT_RETRIES', DEFAULTS.connectRetries, { max: 100_000 }),
    retryDelayMs: env.durationMs('MIGRATE_RETRY_DELAY_MS', DEFAULTS.retryDelayMs, { min: 10 }),
    connectTimeoutMs: env.durationMs('MIGRATE_CONNECT_TIMEOUT_MS', DEFAULTS.connectTimeoutMs, { min: 100 }),
    waitTimeoutMs: env.durationMs('MIGRATE_WAIT_TIMEOUT_MS', DEFAULTS.waitTimeoutMs, { min: 1 }),
    lockTimeoutMs: env.durationMs('MIGRATE_LOCK_TIMEOUT_MS', DEFAULTS.lockTimeoutMs, { min: 1 }),
    statementTimeoutMs: env.durationMs('MIGRATE_STATEMENT_TIMEOUT_MS', DEFAULTS.statementTimeoutMs, { min: 1 }),
  };
}

async function main(): Promise<void> {
  // At info until LOG_LEVEL is read as every service reads it (pino took an empty or unknown one
  // and threw its own stack before the first line).
  let log = createLogger('migrate', 'info');
  try {
    const env = new EnvReader();
    log = createLogger('migrate', env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'));
    const config = loadMigrateConfig(env);
    const applied = await migrateDatabase({
      ...config,
      onRetry: ({ attempt, error, delayMs }) =>
        log.warn({ attempt, retries: config.connectRetries, delay_ms: delayMs, err_code: (error as { code?: string }).code, err: (error as Error).message }, 'database not reachable; retrying'),
    });
    log.info({ applied }, 'migrations applied');
  } catch (error) {
    const code = error instanceof MigrationError || error instanceof ConfigError ? error.code : 'MIGRATION_FAILED';
    const cause = (error as Error).cause as { code?: string; message?: string } | undefined;
    log.error({ code, err: (error as Error).message, cause_code: cause?.code, cause: cause?.message }, 'migration failed');
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
