import {
  REDIS_EVENTS_CHANNEL,
  REDIS_HEARTBEAT_CHANNEL,
  decodeNotification,
  type ForwardedNotification,
  type Heartbeat,
} from '@matchcast/protocol';
import type { Logger } from '@matchcast/runtime';
import { Redis } from 'ioredis';
import type { Broker, BrokerListener } from './broker';

export interface RedisBrokerOptions {
  url: string;
  heartbeatTimeoutMs: number;
  connectTimeoutMs: number;
}

/**
 * Receives the notify-listener's forwarded notifications and heartbeats from Redis pub/sub.
 * Liveness is proven, not assumed: the path counts as healthy only while the listener's
 * heartbeat keeps arriving, which also catches a frozen Redis and a dead listener.
 */
export class RedisBroker implements Broker {
  readonly mode = 'redis' as const;
  private readonly client: Redis;
  private lastHeartbeatAt = 0;
  /** Who sent the last heartbeat, and how many notifications it had published by then. */
  private leader: { id: string; published: number } | undefined;
  /** Usual time between heartbeats (moving average), to tell a late one. */
  private heartbeatGapMs: number | undefined;
  private wasHealthy = false;
  private watchdog: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly options: RedisBrokerOptions,
    private readonly listener: BrokerListener,
    private readonly logger: Logger,
  ) {
    this.client = new Redis(options.url, {
      lazyConnect: true,
      connectTimeout: options.connectTimeoutMs,
      enableOfflineQueue: true, // subscriber only: SUBSCRIBE must be replayable on reconnect
      maxRetriesPerRequest: null,
      retryStrategy: (times) => Math.min(250 * times, 1000),
      autoResubscribe: true,
    });
    this.client.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    this.client.on('ready', () => this.logger.info('Connected to Redis'));
    this.client.on('error', (error: Error) => this.lose(error));
    this.client.on('close', () => this.lose(new Error('connection closed')));
  }

  start(): void {
    this.client.connect().catch((error: Error) => this.lose(error));
    // Queued until connected, then replayed by ioredis after every reconnect.
    this.client.subscribe(REDIS_EVENTS_CHANNEL, REDIS_HEARTBEAT_CHANNEL).catch((error: Error) => this.lose(error));
    // Heartbeat loss has no event of its own: check for it.
    this.watchdog = setInterval(() => this.check(), Math.max(50, this.options.heartbeatTimeoutMs / 10));
    this.watchdog.unref();
  }

  /** A fresh heartbeat also proves the subscription is in place. */
  healthy(): boolean {
    return this.client.status === 'ready' && Date.now() - this.lastHeartbeatAt < this.options.heartbeatTimeoutMs;
  }

  private check(): void {
    const healthy = this.healthy();
    if (healthy && !this.wasHealthy) this.listener.ready('redis');
    if (!healthy && this.wasHealthy) {
      this.listener.down('redis', new Error(`no listener heartbeat for ${Date.now() - this.lastHeartbeatAt} ms`));
    }
    this.wasHealthy = healthy;
  }

  private lose(error: Error): void {
    if (this.closed) return;
    if (this.wasHealthy) {
      this.wasHealthy = false;
      this.lastHeartbeatAt = 0;
      this.listener.down('redis', error);
    }
  }

  /**
   * A heartbeat proves the path is live. It can also show that the path stayed up while the
   * listener behind it did not publish everything: a new leader (another id, or its
   * published count starting over) LISTENs only once it holds the lock, so what committed
   * between the old leader's death and then was never published; a late heartbeat means the
   * leader's own Redis link dropped for a moment, and the publishes meanwhile with it. Either
   * way the outbox catch-up runs, as after a reconnect: a dropped event that no later event
   * of its stream reveals (a match's last one) would otherwise wait for the next switch.
   */
  private onHeartbeat(message: string): void {
    const now = Date.now();
    const gapMs = this.lastHeartbeatAt > 0 ? now - this.lastHeartbeatAt : undefined;
    this.lastHeartbeatAt = now;
    let beat: Partial<Heartbeat> = {};
    try {
      beat = JSON.parse(message) as Partial<Heartbeat>;
    } catch {
      // still a sign of life
    }
    const previous = this.leader;
    const current = { id: String(beat.listener_id ?? ''), published: Number(beat.published) || 0 };
    this.leader = current;
    const newLeader = previous !== undefined && (previous.id !== current.id || current.published < previous.published);
    const usual = this.heartbeatGapMs;
    const late = gapMs !== undefined && usual !== undefined && gapMs > 1.5 * usual + 20;
    // Bursts (heartbeats queued in a frozen Redis arrive together) say nothing about the
    // interval; a late one counts at most double, so the estimate follows a changed interval
    // without being thrown by one outage.
    if (gapMs !== undefined && gapMs >= 10) {
      this.heartbeatGapMs = usual === undefined ? gapMs : 0.8 * usual + 0.2 * Math.min(gapMs, 2 * usual);
    }
    const healthyBefore = this.wasHealthy;
    this.check();
    if (healthyBefore && this.wasHealthy && (newLeader || late)) {
      this.logger.info(
        { listener_id: current.id, previous_listener_id: previous?.id, gap_ms: gapMs },
        newLeader ? 'new notify-listener leader; catching up from the outbox' : 'late listener heartbeat; catching up from the outbox',
      );
      this.listener.ready('redis');
    }
  }

  private onMessage(channel: string, message: string): void {
    if (channel === REDIS_HEARTBEAT_CHANNEL) {
      this.onHeartbeat(message);
      return;
    }
    let forwarded: ForwardedNotification;
    try {
      forwarded = JSON.parse(message) as ForwardedNotification;
    } catch {
      this.logger.warn({ channel }, 'malformed message on the events channel; ignored');
      return;
    }
    const item = typeof forwarded.payload === 'string' ? decodeNotification(forwarded.payload) : undefined;
    if (item) this.listener.event(item, 'redis');
    else this.logger.warn({ pg_channel: forwarded.channel }, 'undecodable notification payload; ignored');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    this.client.disconnect();
  }
}
