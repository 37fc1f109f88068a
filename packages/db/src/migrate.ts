import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientBase } from 'pg';
import { isConnectionError } from './errors';
import { MigrationError } from './migration-error';

export const MIGRATIONS_DIR = join(__dirname, '..', 'migrations');

export interface Migration {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

/** Migrations are `NNN_name.sql` files, applied in file-name order. */
export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{3}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const sql = readFileSync(join(dir, file), 'utf8');
      return {
        version: file.slice(0, 3),
        name: file.slice(4, -4),
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    });
}

export interface MigrateTimeouts {
  /** How long to wait for another migrator's advisory lock (its lock_timeout). */
  waitTimeoutMs: number;
  /**
   * lock_timeout of the migrations' statements: DDL that waits this long for a table lock fails
   * instead of queueing every query on that table behind it.
   */
  lockTimeoutMs: number;
  /** statement_timeout of each migration statement. */
  statementTimeoutMs: number;
}

export const DEFAULT_MIGRATE_TIMEOUTS: Readonly<MigrateTimeouts> = Object.freeze({
  waitTimeoutMs: 120_000,
  lockTimeoutMs: 5_000,
  statementTimeoutMs: 300_000,
});

// One migrator at a time across the cluster (the Helm hook Job, init containers, make demo, tests).
const MIGRATION_LOCK = 7_246_101;
const LOCK_NOT_AVAILABLE = '55P03';
const QUERY_CANCELED = '57014';

/**
 * Applies the pending migrations, each in its own transaction, and records them.
 * Idempotent: applied versions are skipped. Fails with a MigrationError (stable code) on an
 * applied file whose text changed, an SQL error, or a lock or statement timeout; a lost or
 * refused connection is thrown as it is, so a caller can reconnect and run again.
 * The session's own lock_timeout and statement_timeout are restored afterwards.
 */
export async function migrate(
  client: ClientBase,
  migrations = loadMigrations(),
  timeouts: MigrateTimeouts = DEFAULT_MIGRATE_TIMEOUTS,
): Promise<string[]> {
  const { rows: [saved] } = await client.query<{ lock: string; statement: string }>(
    `SELECT current_setting('lock_timeout') AS lock, current_setting('statement_timeout') AS statement`,
  );
  let locked = false;
  try {
    await setTimeouts(client, timeouts.waitTimeoutMs, 0);
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]).catch((error: unknown) => {
      throw classify(error, 'MIGRATION_LOCK_TIMEOUT', `another migrator held the migration lock for ${timeouts.waitTimeoutMs} ms (MIGRATE_WAIT_TIMEOUT_MS)`);
    });
    locked = true;
    await setTimeouts(client, timeouts.lockTimeoutMs, timeouts.statementTimeoutMs);
    return await applyPending(client, migrations, timeouts);
  } finally {
    // On a lost connection the server has released the lock and the settings with the session.
    if (locked) await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    if (saved) await setTimeouts(client, saved.lock, saved.statement).catch(() => undefined);
  }
}

async function applyPending(client: ClientBase, migrations: Migration[], timeouts: MigrateTimeouts): Promise<string[]> {
  const applied = await appliedChecksums(client, timeouts);
  const pending = migrations.filter((migration) => {
    const checksum = applied.get(migration.version);
    if (checksum !== undefined && checksum !== migration.checksum) {
      throw new MigrationError(
        'MIGRATION_CHECKSUM_MISMATCH',
        `migration ${label(migration)} changed after it was applied (recorded sha256 ${checksum.slice(0, 12)}…, file ${migration.checksum.slice(0, 12)}…): ` +
          'never edit an applied migration, add a new one',
      );
    }
    return checksum === undefined;
  });
  const done: string[] = [];
  for (const migration of pending) {
    try {
      await client.query('BEGIN');
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        migration.version,
        migration.name,
        migration.checksum,
      ]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw classifyStatementError(error, `migration ${label(migration)}`, timeouts);
    }
    done.push(label(migration));
  }
  return done;
}

async function appliedChecksums(client: ClientBase, timeouts: MigrateTimeouts): Promise<Map<string, string>> {
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: string; checksum: string }>('SELECT version, checksum FROM schema_migrations');
    return new Map(rows.map((row) => [row.version, row.checksum]));
  } catch (error) {
    throw classifyStatementError(error, 'schema_migrations', timeouts);
  }
}

const label = (migration: Migration) => `${migration.version}_${migration.name}`;

function classifyStatementError(error: unknown, what: string, limits: MigrateTimeouts): unknown {
  const code = (error as { code?: unknown }).code;
  if (code === LOCK_NOT_AVAILABLE) {
    return classify(error, 'MIGRATION_LOCK_TIMEOUT', `${what}: a table lock was not granted within ${limits.lockTimeoutMs} ms (MIGRATE_LOCK_TIMEOUT_MS); a long transaction holds it`);
  }
  if (code === QUERY_CANCELED) {
    return classify(error, 'MIGRATION_STATEMENT_TIMEOUT', `${what}: a statement ran longer than ${limits.statementTimeoutMs} ms (MIGRATE_STATEMENT_TIMEOUT_MS)`);
  }
  return classify(error, 'MIGRATION_SQL_FAILED', `${what} failed: ${(error as Error).message}`);
}

/** A lost connection stays itself (the caller may reconnect); anything else becomes a MigrationError. */
function classify(error: unknown, code: ConstructorParameters<typeof MigrationError>[0], message: string): unknown {
  if (isConnectionError(error) || error instanceof MigrationError) return error;
  return new MigrationError(code, message, { cause: error });
}

async function setTimeouts(client: ClientBase, lock: number | string, statement: number | string): Promise<void> {
  await client.query(`SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)`, [String(lock), String(statement)]);
}
