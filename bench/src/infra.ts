import { join, resolve } from 'node:path';
import { migrate } from '@matchcast/db';
import { PostgresServer, RedisServer, freePort, startChild, waitFor, type ManagedChild } from '@matchcast/testkit';
import pg from 'pg';
import { onCleanup } from './cleanup';

export const ROOT = resolve(__dirname, '..', '..');

/** The benchmark's own Postgres and Redis on free loopback ports, removed at the end. */
export class Infra {
  readonly postgres: PostgresServer;
  readonly redis = new RedisServer();
  db!: pg.Client;

  /** `postgresSettings`: extra server settings (e.g. shared_preload_libraries for pg_stat_statements). */
  constructor(postgresSettings: Record<string, string | number> = {}) {
    this.postgres = new PostgresServer({ settings: postgresSettings });
  }

  async start(): Promise<this> {
    onCleanup('postgres', () => this.postgres.destroy());
    onCleanup('redis', () => this.redis.destroy());
    await Promise.all([this.postgres.start(), this.redis.start()]);
    this.db = new pg.Client(this.postgres.url);
    await this.db.connect();
    onCleanup('setup connection', () => this.db.end());
    await migrate(this.db);
    return this;
  }

  /**
   * One league, two teams per match, `count` live matches with a scoreboard and a game clock.
   * Match ids are m1…mN, so channels are match:m1…; inserting them emits events (before any
   * service starts, so they are history, not part of a run).
   */
  async seed(count: number): Promise<string[]> {
    const ids = Array.from({ length: count }, (_, i) => `m${i + 1}`);
    await this.db.query(`INSERT INTO league (id, name, country) VALUES ('bench', 'Bench League', 'XX')`);
    await this.db.query(
      `INSERT INTO team (id, league_id, name, short_name)
       SELECT 't' || g, 'bench', 'Team ' || g, 'T' || g FROM generate_series(1, $1::int * 2) g`,
      [count],
    );
    await this.db.query(
      `INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status)
       SELECT 'm' || g, 'bench', 't' || (2 * g - 1), 't' || (2 * g), now(), 'live' FROM generate_series(1, $1::int) g`,
      [count],
    );
    await this.db.query(`INSERT INTO scoreboard (match_id) SELECT id FROM match WHERE league_id = 'bench'`);
    await this.db.query(
      `INSERT INTO gameclock (match_id, minute, period, running) SELECT id, 1, 'first_half', true FROM match WHERE league_id = 'bench'`,
    );
    return ids;
  }
}

/** A Node service run from its build output as a real process, its output in a log file. */
export class Service {
  child: ManagedChild | undefined;
  readonly logFile: string;
  private stopRegistered: (() => Promise<void>) | undefined;

  constructor(
    readonly name: string,
    readonly script: string,
    readonly env: Record<string, string>,
    logDir: string,
    readonly nodeArgs: string[] = [],
  ) {
    this.logFile = join(logDir, `${name}.log`);
  }

  get pid(): number {
    const pid = this.child?.process.pid;
    if (pid === undefined) throw new Error(`${this.name} is not running`);
    return pid;
  }

  start(): this {
    this.child = startChild(process.execPath, [...this.nodeArgs, this.script], this.logFile, {
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...this.env },
    });
    this.stopRegistered = onCleanup(this.name, () => this.child?.stop('SIGTERM', 10_000));
    return this;
  }

  /** Polls GET <path> on the service's port until it answers 200, failing early if it exits. */
  async ready(port: number, path: string, timeoutMs = 30_000): Promise<void> {
    let exited = false;
    void this.child?.exited.then(() => (exited = true));
    await waitFor(
      `${this.name} ready`,
      async () => {
        if (exited) throw new Error(`${this.name} exited; see ${this.logFile}`);
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        return res.status === 200 ? true : undefined;
      },
      timeoutMs,
      100,
    );
  }

  async stop(): Promise<void> {
    await this.stopRegistered?.();
  }
}

export const serviceScript = (service: 'gateway' | 'notify-listener' | 'api' | 'notifier'): string => join(ROOT, 'services', service, 'dist', 'main.js');
export const peerScript = (peer: 'naive-ws' | 'socketio'): string => join(__dirname, 'peers', `${peer}.js`);

export { freePort };
