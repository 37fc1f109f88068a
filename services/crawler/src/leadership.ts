/**
 * One active crawler per source across all replicas: the holder of a session advisory lock,
 * taken on a dedicated connection by the same ListenConnection that elects the notify-listener
 * and notifier leaders (it reconnects forever, health-checks with timeouts, and frees the lock
 * with its connection). A killed leader's connection closes, Postgres frees the lock, and a
 * standby takes it at its next try (CRAWLER_LEADER_POLL_MS).
 */
import { EventEmitter } from 'node:events';
import { ListenConnection } from '@matchcast/db';
import type { Logger } from '@matchcast/runtime';

/**
 * The lock connection must LISTEN on something; nothing ever notifies this channel. The lock
 * is what matters.
 */
const LEADER_CHANNEL = 'matchcast_crawler_leader';

/** A source's identity (kind, provider, URL, competitions, id prefix) → its advisory lock key. */
export function leaderLockKey(identity: string): number {
  // FNV-1a, 32 bits, as a positive int4: stable across processes and releases.
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(`matchcast-crawler:${identity}`)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash & 0x7fffffff;
}

export interface CrawlerLeadershipOptions {
  connectionString: string;
  lockKey: number;
  logger: Logger;
  pollMs: number;
}

export class CrawlerLeadership extends EventEmitter<{ acquired: []; lost: [] }> {
  private readonly connection: ListenConnection;
  private leading = false;

  constructor(options: CrawlerLeadershipOptions) {
    super();
    this.connection = new ListenConnection({
      connectionString: options.connectionString,
      channels: [LEADER_CHANNEL],
      logger: options.logger,
      leaderLockKey: options.lockKey,
      standbyPollMs: options.pollMs,
      reconnectDelayMs: 1000,
      healthCheckIntervalMs: 2000,
      healthCheckTimeoutMs: 1500,
      applicationName: 'matchcast-crawler leader',
    });
    this.connection.on('listening', () => {
      this.leading = true;
      options.logger.info({ lock_key: options.lockKey }, 'crawler leadership acquired');
      this.emit('acquired');
    });
    const demote = () => {
      if (!this.leading) return;
      this.leading = false;
      options.logger.warn({ lock_key: options.lockKey }, 'crawler leadership lost; standing by');
      this.emit('lost');
    };
    this.connection.on('lost', demote);
    this.connection.on('standby', demote);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.connection.start();
  }

  async close(): Promise<void> {
    this.leading = false;
    await this.connection.close();
  }
}
