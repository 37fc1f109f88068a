import type { Heartbeat } from '@matchcast/protocol';
import type { Publisher } from './publisher';
import type { ListenerMetrics } from './metrics';

export interface HeartbeatOptions {
  intervalMs: number;
  channel: string;
  listenerId: string;
  publisher: Publisher;
  metrics: ListenerMetrics;
  /** Heartbeats go out only while this is true (this listener leads and LISTENs). */
  isLeader: () => boolean;
  /** Notifications published by this leader since it took the lock. */
  published: () => number;
  /** Notifications this leader failed to publish since it took the lock. */
  dropped: () => number;
}

/**
 * The leader's liveness beacon through Redis. Gateways that miss it for ~1 s fall back to
 * their own PG LISTEN, so it proves the whole path (leader alive, LISTEN up, Redis up),
 * which is why it stops the moment this listener stops leading.
 */
export class HeartbeatPublisher {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: HeartbeatOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.beat(), this.options.intervalMs);
    this.timer.unref();
  }

  /** Publishes one heartbeat now if leading and Redis is up (also used on becoming leader). */
  beat(): void {
    const { publisher, isLeader } = this.options;
    if (!this.timer || !isLeader() || !publisher.up) return;
    const heartbeat: Heartbeat = {
      listener_id: this.options.listenerId,
      sent_at: Date.now(),
      published: this.options.published(),
      dropped: this.options.dropped(),
    };
    void publisher.publish(this.options.channel, JSON.stringify(heartbeat)).then((ok) => {
      if (ok) this.options.metrics.heartbeats.inc();
    });
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
