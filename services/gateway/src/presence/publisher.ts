import { PRESENCE_GATEWAYS_KEY, presenceKeys } from '@matchcast/protocol';
import { throttledWarn, type Logger } from '@matchcast/runtime';
import { Redis } from 'ioredis';
import { takeSnapshot, type PresenceClient } from './snapshot';

export interface PresenceOptions {
  gatewayId: string;
  redisUrl: string;
  /** How often the snapshot is written; it expires after three intervals (a gateway gone stops counting). */
  intervalMs: number;
  commandTimeoutMs: number;
}

/**
 * Writes this gateway's presence snapshot to Redis every interval (protocol/presence.ts), for the
 * API's admin views. Best effort on its own connection: while Redis is down a write fails fast
 * (no offline queue) and the next interval tries again; delivery never waits on it.
 */
export class PresencePublisher {
  private readonly redis: Redis;
  private readonly keys: ReturnType<typeof presenceKeys>;
  private readonly ttlMs: number;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;
  private writing = false;
  private readonly warn: ReturnType<typeof throttledWarn>;

  constructor(
    private readonly options: PresenceOptions,
    private readonly clients: () => Iterable<PresenceClient>,
    logger: Logger,
  ) {
    this.keys = presenceKeys(options.gatewayId);
    this.ttlMs = options.intervalMs * 3;
    this.warn = throttledWarn(logger);
    this.redis = new Redis(options.redisUrl, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: options.commandTimeoutMs * 2,
      connectionName: `matchcast-gateway-presence-${options.gatewayId}`,
      retryStrategy: (times) => Math.min(250 * times, 2000),
    });
    this.redis.on('error', () => undefined); // a failed write says it; the connection retries on its own
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    // The first snapshot once connected, and the interval from then on (or from a failed first
    // connect, Redis being down): written at once, the first failed (no offline queue) and
    // logged a warning with a stack at every start; so did an interval that fired before a slow
    // first connect was done.
    const every = () => {
      if (this.closed) return;
      this.timer = setInterval(() => void this.write(), this.options.intervalMs);
      this.timer.unref();
    };
    this.redis.connect().then(
      () => {
        if (!this.closed) void this.write();
        every();
      },
      every,
    );
  }

  /** Writes one snapshot now (the interval calls it; tests too). Resolves false when Redis refused. */
  async write(): Promise<boolean> {
    if (this.writing) return false;
    this.writing = true;
    try {
      const snapshot = takeSnapshot(this.clients());
      const now = snapshot.meta.at;
      const tx = this.redis.multi();
      tx.del(this.keys.channels, this.keys.users);
      if (snapshot.channels.size > 0) tx.hset(this.keys.channels, snapshot.channels);
      if (snapshot.users.size > 0) tx.hset(this.keys.users, snapshot.users);
      tx.pexpire(this.keys.channels, this.ttlMs);
      tx.pexpire(this.keys.users, this.ttlMs);
      tx.set(this.keys.meta, JSON.stringify(snapshot.meta), 'PX', this.ttlMs);
      tx.zadd(PRESENCE_GATEWAYS_KEY, now + this.ttlMs, this.options.gatewayId);
      tx.zremrangebyscore(PRESENCE_GATEWAYS_KEY, '-inf', now);
      await tx.exec();
      return true;
    } catch (error) {
      this.warn({ err: error }, 'presence snapshot not written to Redis; retrying next interval');
      return false;
    } finally {
      this.writing = false;
    }
  }

  /** Stops writing and takes this gateway's snapshot out at once (a drained gateway has no clients). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    try {
      if (this.redis.status === 'ready') {
        await this.redis.multi().del(this.keys.meta, this.keys.channels, this.keys.users).zrem(PRESENCE_GATEWAYS_KEY, this.options.gatewayId).exec();
      }
    } catch {
      // Redis away: the snapshot expires by itself.
    }
    this.redis.disconnect();
  }
}
