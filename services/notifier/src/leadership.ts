import { EventEmitter } from 'node:events';
import { ListenConnection, type ListenState } from '@matchcast/db';
import { throttledWarn, type Logger } from '@matchcast/runtime';

/** One active notifier per database: the holder of this session advisory lock. */
export const NOTIFIER_LOCK_KEY = 7_246_104;

/** The NOTIFY channels of the tables whose rows can notify: a wake-up, so goals go out at once. */
const WAKE_CHANNELS = ['football_event_change', 'match_change'];

export interface LeadershipEvents {
  /** This process holds the lock: start working (from the stored cursor). */
  acquired: [];
  /** The lock's connection is gone, so is the lock: stop at once. */
  lost: [];
  /** A match event or status change was committed: worth polling now. */
  wake: [];
}

export interface LeadershipOptions {
  connectionString: string;
  logger: Logger;
  notifierId: string;
  standbyPollMs?: number;
  reconnectDelayMs?: number;
  healthCheckIntervalMs?: number;
  healthCheckTimeoutMs?: number;
}

/**
 * Leader election as the notify-listener does it: a dedicated connection that takes
 * pg_try_advisory_lock (a standby retries every second) and, while it holds it, LISTENs for
 * match changes. The lock is the connection's: when the connection dies — the process was
 * killed, the network or the server went away, a health check timed out — the server frees
 * the lock for a standby, and this process hears 'lost' and stops working.
 */
export class Leadership extends EventEmitter<LeadershipEvents> {
  private readonly connection: ListenConnection;
  private leading = false;

  constructor(options: LeadershipOptions) {
    super();
    this.connection = new ListenConnection({
      connectionString: options.connectionString,
      channels: WAKE_CHANNELS,
      logger: options.logger,
      leaderLockKey: NOTIFIER_LOCK_KEY,
      standbyPollMs: options.standbyPollMs ?? 1000,
      reconnectDelayMs: options.reconnectDelayMs ?? 1000,
      healthCheckIntervalMs: options.healthCheckIntervalMs ?? 2000,
      healthCheckTimeoutMs: options.healthCheckTimeoutMs ?? 1500,
      applicationName: `matchcast-notifier ${options.notifierId}`.slice(0, 63),
      // Any role may NOTIFY: only what the outbox code signed wakes the worker (018), so a flood of forged ones costs no outbox reads.
      verifySignatures: true,
    });
    this.connection.on('listening', () => {
      this.leading = true;
      this.emit('acquired');
    });
    this.connection.on('lost', () => this.demote());
    this.connection.on('standby', () => this.demote());
    this.connection.on('notification', () => this.emit('wake'));
    const warnForged = throttledWarn(options.logger);
    this.connection.on('rejected', (channel, error) => warnForged({ pg_channel: channel, reason: error.message }, 'unsigned notification ignored; not a wake-up'));
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Connected to Postgres, as leader or standby. */
  get connected(): boolean {
    const state: ListenState = this.connection.state;
    return state === 'listening' || state === 'standby';
  }

  start(): void {
    this.connection.start();
  }

  /** Releases the lock (a standby takes over at its next try) and closes the connection. */
  async close(): Promise<void> {
    this.demote();
    await this.connection.close();
  }

  private demote(): void {
    if (!this.leading) return;
    this.leading = false;
    this.emit('lost');
  }
}
