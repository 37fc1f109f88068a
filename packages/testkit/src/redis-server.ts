import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChild, type ManagedChild } from './child';
import { freePort, waitFor } from './ports';

export interface RedisServerOptions {
  /**
   * An ACL file to load (`--aclfile`): users, passwords and permissions. With `default off`
   * in it, `url` (no user) can no longer run commands; use `urlFor(user, password)`.
   */
  aclFile?: string;
}

/** A throwaway redis-server from PATH on a free port, which tests can kill, freeze and restart. */
export class RedisServer {
  private child: ManagedChild | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'matchcast-redis-'));
  readonly logFile = join(this.dir, 'redis.log');
  port = 0;

  constructor(private readonly options: RedisServerOptions = {}) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The URL of one ACL user (names and passwords are URL-encoded). */
  urlFor(user: string, password: string): string {
    return `redis://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  async start(): Promise<this> {
    this.port ||= await freePort();
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir];
    if (this.options.aclFile) args.push('--aclfile', this.options.aclFile);
    this.child = startChild('redis-server', args, this.logFile);
    await waitFor('redis-server to answer PING', () => ping(this.port));
    return this;
  }

  signal(signal: NodeJS.Signals): void {
    this.child?.signal(signal);
  }

  /** SIGKILL: the crash case, nothing flushed, every connection reset. */
  async kill(): Promise<void> {
    await this.child?.stop('SIGKILL');
    this.child = undefined;
  }

  async stop(): Promise<void> {
    await this.child?.stop('SIGTERM');
    this.child = undefined;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Resolves true when redis answers PING — with PONG, or with NOAUTH when the default user
 * needs a password or is off (it answered: it is up) — undefined otherwise (for waitFor).
 */
function ping(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok ? true : undefined);
    };
    socket.setTimeout(500, () => finish(false));
    socket.on('error', () => finish(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => finish(/^(\+PONG|-NOAUTH)/.test(data.toString())));
  });
}
