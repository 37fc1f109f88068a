/**
 * The migrator against a real PostgreSQL: only connection errors are retried (a bounded number
 * of times), an SQL error or an edited migration fails at once with a stable code, and a held
 * lock or a slow statement fails with a timeout instead of hanging. The CLI is run as the
 * process the chart and compose run, for its exit code and log line.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MIGRATE_DATABASE_OPTIONS, loadMigrations, migrate, migrateDatabase, type MigrateDatabaseOptions, MigrationError } from '@matchcast/db';
import { freePort, PostgresServer } from '@matchcast/testkit';
import pg from 'pg';

const CLI = join(__dirname, '..', 'dist', 'cli.js');

describe('migrate', () => {
  let server: PostgresServer;
  let admin: pg.Client;
  const dirs: string[] = [];
  let databases = 0;

  beforeAll(async () => {
    server = await new PostgresServer().start();
    admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.end();
    await server?.destroy();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh database of its own, so each case starts from an empty schema. */
  async function freshDatabase(): Promise<string> {
    const name = `migrate_${(databases += 1)}`;
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(server.url);
    url.pathname = `/${name}`;
    return url.toString();
  }

  /** Migration files in a temp directory, loaded by the real loader. */
  function migrationsDir(files: Record<string, string>) {
    const dir = mkdtempSync(join(tmpdir(), 'matchcast-migrations-'));
    dirs.push(dir);
    for (const [file, sql] of Object.entries(files)) writeFileSync(join(dir, file), sql);
    return loadMigrations(dir);
  }

  const options = (url: string, extra: Partial<MigrateDatabaseOptions> = {}): MigrateDatabaseOptions & { retries: number[] } => {
    const retries: number[] = [];
    return { ...DEFAULT_MIGRATE_DATABASE_OPTIONS, url, retryDelayMs: 50, onRetry: ({ attempt }) => retries.push(attempt), retries, ...extra };
  };

  async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query<T>(sql)).rows;
    } finally {
      await client.end();
    }
  }

  async function failure(run: Promise<unknown>): Promise<MigrationError> {
    const error = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(error instanceof MigrationError)) throw new Error(`expected a MigrationError, got ${String(error)}`);
    return error;
  }

  it('applies the shipped migrations once; a second run applies nothing and the session keeps its own timeouts', async () => {
    const url = await freshDatabase();
    const all = loadMigrations().map((m) => `${m.version}_${m.name}`);
    expect(await migrateDatabase(options(url))).toEqual(all);
    expect(await migrateDatabase(options(url))).toEqual([]);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`SET lock_timeout = '7s'; SET statement_timeout = '9s'`);
      expect(await migrate(client)).toEqual([]);
      const { rows } = await client.query(`SELECT current_setting('lock_timeout') AS lock, current_setting('statement_timeout') AS statement`);
      expect(rows[0]).toEqual({ lock: '7s', statement: '9s' });
    } finally {
      await client.end();
    }
  });

  it('an SQL error fails at once with MIGRATION_SQL_FAILED, is not retried, and leaves nothing half-applied', async () => {
    const url = await freshDatabase();
    const run = options(url, {
      connectRetries: 5,
      migrations: migrationsDir({ '001_good.sql': 'CREATE TABLE good (id int);', '002_bad.sql': 'CREATE TABLE half (id int);\nSELEC 1;' }),
    });
    const started = Date.now();
    const error = await failure(migrateDatabase(run));
    expect(error.code).toBe('MIGRATION_SQL_FAILED');
    expect(error.message).toMatch(/^migration 002_bad failed: syntax error at or near "SELEC"/);
    expect((error.cause as { code?: string }).code).toBe('42601');
    expect(run.retries).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await query(url, 'SELECT version FROM schema_migrations ORDER BY version')).toEqual([{ version: '001' }]);
    expect(await query(url, `SELECT to_regclass('half') AS half`)).toEqual([{ half: null }]);
  });

  it('an applied migration whose file changed fails with MIGRATION_CHECKSUM_MISMATCH before anything else is applied', async () => {
    const url = await freshDatabase();
    await migrateDatabase(options(url, { migrations: migrationsDir({ '001_a.sql': 'CREATE TABLE a (id int);' }) }));
    const edited = options(url, {
      connectRetries: 5,
      migrations: migrationsDir({ '001_a.sql': 'CREATE TABLE a (id bigint);', '002_b.sql': 'CREATE TABLE b (id int);' }),
    });
    const error = await failure(migrateDatabase(edited));
    expect(error.code).toBe('MIGRATION_CHECKSUM_MISMATCH');
    expect(error.message).toMatch(/^migration 001_a changed after it was applied/);
    expect(edited.retries).toEqual([]);
    expect(await query(url, `SELECT to_regclass('b') AS b`)).toEqual([{ b: null }]);
  });

  it('an older release\'s migrator against a newer schema (a rollback) applies nothing and succeeds', async () => {
    const url = await freshDatabase();
    const newer = { '001_a.sql': 'CREATE TABLE a (id int);', '002_b.sql': 'CREATE TABLE b (id int);' };
    expect(await migrateDatabase(options(url, { migrations: migrationsDir(newer) }))).toEqual(['001_a', '002_b']);
    expect(await migrateDatabase(options(url, { migrations: migrationsDir({ '001_a.sql': newer['001_a.sql'] }) }))).toEqual([]);
  });

  it('a server that is down is retried up to MIGRATE_CONNECT_RETRIES times, then MIGRATION_DB_UNAVAILABLE', async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/matchcast`;
    const run = options(url, { connectRetries: 3 });
    const error = await failure(migrateDatabase(run));
    expect(error.code).toBe('MIGRATION_DB_UNAVAILABLE');
    expect(error.message).toMatch(/after 4 attempt\(s\)/);
    expect((error.cause as { code?: string }).code).toBe('ECONNREFUSED');
    expect(run.retries).toEqual([1, 2, 3]);
  });

  it('a server that comes back within the retries is migrated', async () => {
    const down = new PostgresServer();
    await down.start();
    try {
      await down.stop();
      const run = options(down.url, { connectRetries: 200, retryDelayMs: 50 });
      const migrated = migrateDatabase({ ...run, migrations: migrationsDir({ '001_late.sql': 'CREATE TABLE late (id int);' }) });
      await new Promise((resolve) => setTimeout(resolve, 500));
      await down.start();
      expect(await migrated).toEqual(['001_late']);
      expect(run.retries.length).toBeGreaterThan(0);
    } finally {
      await down.destroy();
    }
  });

  it('an unknown database is refused at once with MIGRATION_DB_REJECTED, not retried', async () => {
    const url = new URL(server.url);
    url.pathname = '/no_such_database';
    const run = options(url.toString(), { connectRetries: 5 });
    const error = await failure(migrateDatabase(run));
    expect(error.code).toBe('MIGRATION_DB_REJECTED');
    expect((error.cause as { code?: string }).code).toBe('3D000');
    expect(run.retries).toEqual([]);
  });

  it('another migrator holding the migration lock: MIGRATION_LOCK_TIMEOUT after MIGRATE_WAIT_TIMEOUT_MS, not a hang', async () => {
    const url = await freshDatabase();
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(7246101)');
      const started = Date.now();
      const error = await failure(migrateDatabase(options(url, { waitTimeoutMs: 300, connectRetries: 5 })));
      expect(error.code).toBe('MIGRATION_LOCK_TIMEOUT');
      expect(error.message).toMatch(/another migrator held the migration lock for 300 ms/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await holder.end();
    }
  });

  it('DDL behind a long transaction\'s table lock: MIGRATION_LOCK_TIMEOUT after MIGRATE_LOCK_TIMEOUT_MS, rolled back', async () => {
    const url = await freshDatabase();
    await migrateDatabase(options(url, { migrations: migrationsDir({ '001_t.sql': 'CREATE TABLE t (id int);' }) }));
    const reader = new pg.Client({ connectionString: url });
    await reader.connect();
    try {
      await reader.query('BEGIN');
      await reader.query('SELECT * FROM t');
      const migrations = migrationsDir({ '001_t.sql': 'CREATE TABLE t (id int);', '002_alter.sql': 'ALTER TABLE t ADD COLUMN name text;' });
      const started = Date.now();
      const error = await failure(migrateDatabase(options(url, { lockTimeoutMs: 200, migrations })));
      expect(error.code).toBe('MIGRATION_LOCK_TIMEOUT');
      expect(error.message).toMatch(/^migration 002_alter: a table lock was not granted within 200 ms/);
      expect(Date.now() - started).toBeLessThan(5_000);
      await reader.query('COMMIT');
      expect(await query(url, 'SELECT count(*)::int AS n FROM schema_migrations')).toEqual([{ n: 1 }]);
    } finally {
      await reader.end();
    }
  });

  it('a statement past MIGRATE_STATEMENT_TIMEOUT_MS fails with MIGRATION_STATEMENT_TIMEOUT', async () => {
    const url = await freshDatabase();
    const error = await failure(
      migrateDatabase(options(url, { statementTimeoutMs: 200, migrations: migrationsDir({ '001_slow.sql': 'SELECT pg_sleep(10);' }) })),
    );
    expect(error.code).toBe('MIGRATION_STATEMENT_TIMEOUT');
    expect((error.cause as { code?: string }).code).toBe('57014');
  });

  describe('the CLI (node packages/db/dist/cli.js)', () => {
    beforeAll(() => {
      if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (pnpm exec tsc -b)`);
    });

    const cli = (env: Record<string, string>) => {
      const result = spawnSync(process.execPath, [CLI], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 30_000 });
      const lines = result.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
      return { status: result.status, lines, last: lines.at(-1) ?? {} };
    };

    it('exits 0 and logs what it applied', async () => {
      const url = await freshDatabase();
      const run = cli({ DATABASE_URL: url });
      expect(run.status).toBe(0);
      expect(run.last).toMatchObject({ msg: 'migrations applied', applied: loadMigrations().map((m) => `${m.version}_${m.name}`) });
    });

    it('exits 1 at once with MIGRATION_CHECKSUM_MISMATCH when an applied migration was edited', async () => {
      const url = await freshDatabase();
      expect(cli({ DATABASE_URL: url }).status).toBe(0);
      await query(url, `UPDATE schema_migrations SET checksum = 'edited' WHERE version = '002'`);
      const run = cli({ DATABASE_URL: url, MIGRATE_CONNECT_RETRIES: '50' });
      expect(run.status).toBe(1);
      expect(run.lines.filter((line) => line.msg === 'database not reachable; retrying')).toEqual([]);
      expect(run.last).toMatchObject({ level: 'error', msg: 'migration failed', code: 'MIGRATION_CHECKSUM_MISMATCH' });
    });

    it('retries an unreachable database MIGRATE_CONNECT_RETRIES times, then exits 1 with MIGRATION_DB_UNAVAILABLE', async () => {
      const run = cli({ DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/matchcast`, MIGRATE_CONNECT_RETRIES: '2', MIGRATE_RETRY_DELAY_MS: '50' });
      expect(run.status).toBe(1);
      expect(run.lines.filter((line) => line.msg === 'database not reachable; retrying').map((line) => [line.attempt, line.err_code])).toEqual([
        [1, 'ECONNREFUSED'],
        [2, 'ECONNREFUSED'],
      ]);
      expect(run.last).toMatchObject({ msg: 'migration failed', code: 'MIGRATION_DB_UNAVAILABLE', cause_code: 'ECONNREFUSED' });
    });

    it('exits 1 with CONFIG_INVALID on a bad setting, naming it', () => {
      const run = cli({ DATABASE_URL: server.url, MIGRATE_LOCK_TIMEOUT_MS: '5s' });
      expect(run.status).toBe(1);
      expect(run.last).toMatchObject({ code: 'CONFIG_INVALID' });
      expect(String(run.last.err)).toContain('MIGRATE_LOCK_TIMEOUT_MS');
    });

    // Before: LOG_LEVEL went to pino as given: empty (the documented "default") or unknown, the
    // CLI died at its first line with pino's stack ("default level: must be included in custom
    // levels"), naming no variable and migrating nothing.
    it('takes an empty LOG_LEVEL as the default, and refuses an unknown one with CONFIG_INVALID naming it', async () => {
      const url = await freshDatabase();
      expect(cli({ DATABASE_URL: url, LOG_LEVEL: '' })).toMatchObject({ status: 0, last: { msg: 'migrations applied' } });
      const run = cli({ DATABASE_URL: url, LOG_LEVEL: 'verbose' });
      expect(run.status).toBe(1);
      expect(run.last).toMatchObject({ level: 'error', code: 'CONFIG_INVALID' });
      expect(String(run.last.err)).toContain('LOG_LEVEL must be one of');
    });
  });
});
