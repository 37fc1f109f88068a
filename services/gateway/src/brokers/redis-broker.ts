import {
  InvalidBusMessage,
  REDIS_EVENTS_CHANNEL,
  REDIS_HEARTBEAT_CHANNEL,
  decodeForwarded,
  decodeHeartbeat,
  type Heartbeat,
} from '@matchcast/protocol';
import type { BusSignature, Logger } from '@matchcast/runtime';
import { Redis } from 'ioredis';
import type { Broker, BrokerListener } from './broker';

/** How old a signed heartbeat may be (by its sender's clock) and still count. */
const MAX_SIGNED_HEARTBEAT_AGE_MS = 10_000;
/** Listeners whose last signed heartbeat is remembered (each pod runs one; the oldest is forgotten first). */
const MAX_REMEMBERED_LISTENERS = 1000;

export interface RedisBrokerOptions {
  url: string;
  heartbeatTimeoutMs: number;
  connectTimeoutMs: number;
  /** Checks every message's signature (BUS_SIGNING_KEYS); undefined: messages are taken unsigned. */
  signature: BusSignature | undefined;
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
  /** Who sent the last heartbeat, and its published and dropped counts then. */
  private leader: { id: string; published: number; dropped: number } | undefined;
  /** With signed heartbeats: each listener's last sent_at taken, so none of its heartbeats counts twice. */
  private readonly lastSentAt = new Map<string, number>();
  private wasHealthy = false;
  private watchdog: NodeJS.Timeout | undefined;
  private closed = false;
  private listener: BrokerListener | undefined;
  /** When heartbeat news last asked for a catch-up, and news held back since (see tell). */
  private toldAt = 0;
  private held: { fields: Record<string, unknown>; message: string } | undefined;
  private heldTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: RedisBrokerOptions,
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

  start(listener: BrokerListener): void {
    this.listener = listener;
    this.client.connect().catch((error: Error) => this.lose(error));
    // Queued until connected, then replayed by ioredis after every reconnect.
    this.client.subscribe(REDIS_EVENTS_CHANNEL, REDIS_HEARTBEAT_CHANNEL).catch((error: Error) => this.lose(error));
  }

  /** A fresh heartbeat also proves the subscription is in place. */
  healthy(): boolean {
    return this.client.status === 'ready' && Date.now() - this.lastHeartbeatAt < this.options.heartbeatTimeoutMs;
  }

  private check(): void {
    const healthy = this.healthy();
    if (healthy && !this.wasHealthy) this.listener?.ready('redis');
    if (!healthy && this.wasHealthy) {
      this.listener?.down('redis', new Error(`no listener heartbeat for ${Date.now() - this.lastHeartbeatAt} ms`));
    }
    this.wasHealthy = healthy;
    if (healthy) this.watch();
  }

  /**
   * Heartbeat loss has no event of its own: while healthy, one timer waits for the moment the
   * last heartbeat goes stale, and re-arms from the newest one when it fires. A poll every tenth
   * of the timeout did the same with ten wake-ups a second of an idle gateway (docs/benchmarks.md,
   * "What the gateway costs when nothing happens").
   */
  private watch(): void {
    if (this.watchdog !== undefined || this.closed) return;
    const wait = this.lastHeartbeatAt + this.options.heartbeatTimeoutMs - Date.now();
    this.watchdog = setTimeout(() => {
      this.watchdog = undefined;
      this.check();
    }, Math.max(1, wait));
    this.watchdog.unref();
  }

  private lose(error: Error): void {
    if (this.closed) return;
    if (this.wasHealthy) {
      this.wasHealthy = false;
      this.lastHeartbeatAt = 0;
      this.listener?.down('redis', error);
    }
  }

  /**
   * A heartbeat proves the path is live. It also tells when the path stayed up while the
   * listener behind it did not publish everything: a new leader (another id, or its count
   * starting over) LISTENs only once it holds the lock, so what committed in between was
   * never published; a grown `dropped` count means publishes failed. Either way the outbox
   * catch-up runs, as after a reconnect (at most once per heartbeat timeout: see tell): a
   * dropped event that no later event of its stream reveals (a match's last one) would
   * otherwise wait for the next switch.
   */
  private onHeartbeat(beat: Heartbeat): void {
    if (this.options.signature) this.refuseReplay(beat);
    this.lastHeartbeatAt = Date.now();
    const previous = this.leader;
    const current = { id: beat.listener_id, published: beat.published, dropped: beat.dropped };
    this.leader = current;
    const newLeader = previous !== undefined && (previous.id !== current.id || current.published < previous.published);
    const dropped = previous !== undefined && !newLeader && current.dropped > previous.dropped;
    const healthyBefore = this.wasHealthy;
    this.check();
    if (healthyBefore && this.wasHealthy && (newLeader || dropped)) {
      this.tell({
        fields: { listener_id: current.id, previous_listener_id: previous?.id, dropped: current.dropped },
        message: newLeader ? 'new notify-listener leader; catching up from the outbox' : 'listener dropped publishes; catching up from the outbox',
      });
    }
  }

  /**
   * A signature does not stop a recorded heartbeat from being sent again, to keep this path
   * looking alive after its listener died (heartbeats of several listeners in turn, after a
   * leader change): one no newer than its own sender's last, or older than
   * MAX_SIGNED_HEARTBEAT_AGE_MS (pods' clocks may differ a little), proves nothing.
   */
  private refuseReplay(beat: Heartbeat): void {
    const last = this.lastSentAt.get(beat.listener_id);
    if (beat.sent_at < Date.now() - MAX_SIGNED_HEARTBEAT_AGE_MS || (last !== undefined && beat.sent_at <= last)) {
      throw new InvalidBusMessage('heartbeat is a replay or too old');
    }
    this.lastSentAt.delete(beat.listener_id); // re-inserted last: the map's order is the forgetting order
    this.lastSentAt.set(beat.listener_id, beat.sent_at);
    if (this.lastSentAt.size > MAX_REMEMBERED_LISTENERS) this.lastSentAt.delete(this.lastSentAt.keys().next().value!);
  }

  /**
   * Asks for a catch-up at most once per heartbeat timeout: anyone who can publish here can
   * forge heartbeats, and alternating listener ids would otherwise ask on every one. News in
   * between is not lost: it asks once when the time is up, a delay no longer than the one a
   * missed heartbeat already costs.
   */
  private tell(news: { fields: Record<string, unknown>; message: string }): void {
    const wait = this.toldAt + this.options.heartbeatTimeoutMs - Date.now();
    if (wait > 0) {
      this.held = news;
      this.heldTimer ??= setTimeout(() => {
        this.heldTimer = undefined;
        const held = this.held;
        this.held = undefined;
        // Lost the path meanwhile: the fallback's catch-up covers it.
        if (held && this.wasHealthy && !this.closed) this.tell(held);
      }, wait);
      this.heldTimer.unref();
      return;
    }
    this.toldAt = Date.now();
    this.logger.info(news.fields, news.message);
    this.listener?.ready('redis');
  }

  /**
   * Anything may arrive here — any client of this Redis can PUBLISH. What does not decode is
   * counted and dropped (an invalid heartbeat is no sign of life); nothing throws into ioredis.
   */
  private onMessage(channel: string, message: string): void {
    const heartbeat = channel === REDIS_HEARTBEAT_CHANNEL;
    try {
      const text = this.options.signature ? this.options.signature.open(channel, message) : message;
      if (heartbeat) this.onHeartbeat(decodeHeartbeat(text));
      else this.listener?.event(decodeForwarded(text), 'redis');
    } catch (error) {
      if (error instanceof InvalidBusMessage) this.listener?.invalid(heartbeat ? 'heartbeat' : 'redis', error);
      else this.logger.error({ err: error }, 'handling a bus message failed');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.watchdog);
    clearTimeout(this.heldTimer);
    this.client.disconnect();
  }
}
