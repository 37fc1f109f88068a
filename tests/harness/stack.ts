import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { migrate } from '@matchcast/db';
import { PostgresServer, RedisServer, deliveringThrough, freePort, startChild, waitFor, type ManagedChild } from '@matchcast/testkit';
import pg from 'pg';

const ROOT = resolve(__dirname, '..', '..');
export const LOG_DIR = mkdtempSync(join(tmpdir(), 'matchcast-logs-'));

/** One of our services, run from its build output as a real process. */
export class ServiceProcess {
  child: ManagedChild | undefined;
  readonly logFile: string;
  private starts = 0;

  /** `entry`: the program in dist/ (the notify-listener's supervise.js runs it as in a sidecar container). */
  constructor(
    readonly service: 'gateway' | 'notify-listener' | 'crawler' | 'api' | 'notifier',
    readonly env: Record<string, string>,
    readonly name: string = service,
    readonly entry = 'main.js',
  ) {
    this.logFile = join(LOG_DIR, `${name}.log`);
  }

  start(): this {
    this.starts++;
    this.child = startChild(process.execPath, [join(ROOT, 'services', this.service, 'dist', this.entry)], this.logFile, {
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...this.env },
    });
    return this;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.child?.stop(signal);
  }

  kill(): Promise<void> {
    return this.stop('SIGKILL');
  }

  /** The log's non-empty lines from byte `offset` on. */
  logLines(offset = 0): string[] {
    if (!existsSync(this.logFile)) return [];
    return readFileSync(this.logFile).subarray(offset).toString('utf8').split('\n').filter((line) => line.trim() !== '');
  }

  /** The log's last lines from byte `offset` on (long ones cut), for an error that says why the service failed. */
  logTail(maxLines = 20, offset = 0): string {
    const lines = this.logLines(offset).slice(-maxLines);
    return lines.length === 0 ? '(no log)' : lines.map((line) => (line.length > 600 ? `${line.slice(0, 600)}…` : line)).join('\n');
  }
}

export class GatewayProcess extends ServiceProcess {
  /** `opsPort` serves /healthz, /readyz and /metrics; `port` the clients. */
  constructor(
    readonly port: number,
    readonly opsPort: number,
    env: Record<string, string>,
    name = 'gateway',
  ) {
    super('gateway', { PORT: String(port), OPS_PORT: String(opsPort), HOST: '127.0.0.1', DRAIN_DELAY_MS: '200', ...env }, name);
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  async readyz(): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`http://127.0.0.1:${this.opsPort}/readyz`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async mode(): Promise<string | undefined> {
    try {
      return (await this.readyz()).body.mode as string;
    } catch {
      return undefined;
    }
  }

  /** Ready and delivering through `mode`: bus traffic a test injects from now on is seen (see deliveringThrough). */
  deliveringThrough(mode: 'redis' | 'postgres', timeoutMs = 20_000): Promise<void> {
    return deliveringThrough(`http://127.0.0.1:${this.opsPort}`, mode, timeoutMs);
  }

  /** Fails at once, with the log's tail, if the process exits first (a port taken, bad config). */
  async ready(timeoutMs = 20_000): Promise<void> {
    let exitCode: number | null | undefined;
    void this.child!.exited.then((code) => (exitCode = code));
    const outcome = await waitFor(
      `${this.name} ready`,
      async () => {
        if (exitCode !== undefined) return 'exited';
        return (await this.readyz()).status === 200 ? 'ready' : undefined;
      },
      timeoutMs,
    ).catch((error: Error) => error);
    if (outcome === 'ready') return;
    const why = outcome === 'exited' ? `${this.name} exited with code ${exitCode} before it was ready` : outcome.message;
    throw new Error(`${why}; the end of ${this.logFile}:\n${this.logTail()}`, { cause: outcome });
  }
}

/** Real Postgres + (optionally) Redis, migrated, with a client for assertions. */
export class Infra {
  readonly postgres = new PostgresServer();
  readonly redis = new RedisServer();
  db!: pg.Client;

  async start(withRedis: boolean): Promise<this> {
    await Promise.all([this.postgres.start(), withRedis ? this.redis.start() : undefined]);
    this.db = new pg.Client(this.postgres.url);
    await this.db.connect();
    await migrate(this.db);
    return this;
  }

  async destroy(): Promise<void> {
    await this.db?.end().catch(() => undefined);
    await Promise.all([this.postgres.destroy(), this.redis.destroy()]);
  }
}

export { freePort, waitFor };
