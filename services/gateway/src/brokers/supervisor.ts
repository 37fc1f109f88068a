import type { OutboxEvent, OutboxRef } from '@matchcast/protocol';
import { throttledWarn, type Logger } from '@matchcast/runtime';
import type { Config } from '../config';
import type { GatewayMetrics } from '../metrics';
import type { Sequencer } from '../sequencer';
import type { Broker, BrokerListener, BrokerMode, InvalidSource } from './broker';
import { PgBroker } from './pg-broker';
import { RedisBroker } from './redis-broker';

/**
 * Runs Redis mode normally and the gateway's own Postgres LISTEN while Redis (or the
 * listener's heartbeat through it) is down, probing to switch back. Both paths feed the
 * sequencer, which drops duplicates, so overlap during a switch is harmless; every
 * (re)connect and every switch runs an outbox catch-up for what no path carried.
 * Log lines follow seed 001's "Expected Log Patterns".
 */
export class BrokerSupervisor implements BrokerListener {
  private current: BrokerMode;
  private redis: RedisBroker | undefined;
  private pg: PgBroker | undefined;
  private probe: NodeJS.Timeout | undefined;
  private startupCheck: NodeJS.Timeout | undefined;
  /** When the active path was last lost; the catch-up window reaches back to it. */
  private downSince: number;
  private closed = false;
  private switching = false;
  private readonly warnInvalid: ReturnType<typeof throttledWarn>;

  constructor(
    private readonly config: Config,
    private readonly sequencer: Sequencer,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
  ) {
    this.current = config.redisUrl ? 'redis' : 'postgres';
    this.downSince = Date.now();
    this.warnInvalid = throttledWarn(logger);
  }

  get mode(): BrokerMode {
    return this.current;
  }

  /** True while some path delivers events (readiness). */
  delivering(): boolean {
    return (this.current === 'redis' ? this.redis : this.pg)?.healthy() ?? false;
  }

  start(): void {
    this.setModeGauge();
    if (!this.config.redisUrl) {
      this.logger.info('Redis not configured: using PostgreSQL direct LISTEN');
      this.startPg();
      return;
    }
    this.redis = new RedisBroker(
      {
        url: this.config.redisUrl,
        heartbeatTimeoutMs: this.config.broker.heartbeatTimeoutMs,
        connectTimeoutMs: this.config.broker.redisCommandTimeoutMs * 2,
      },
      this,
      this.logger,
    );
    this.redis.start();
    // No heartbeat soon after start (Redis or listener absent): deliver through Postgres meanwhile.
    this.startupCheck = setTimeout(() => {
      if (this.current === 'redis' && !this.redis?.healthy()) {
        this.fallBack(new Error(`no listener heartbeat within ${this.config.broker.heartbeatTimeoutMs * 2} ms of start`));
      }
    }, this.config.broker.heartbeatTimeoutMs * 2);
    this.startupCheck.unref();
  }

  event(item: OutboxEvent | OutboxRef, mode: BrokerMode): void {
    this.sequencer.accept(item, mode);
  }

  invalid(source: InvalidSource, error: unknown): void {
    this.metrics.invalidMessages.inc({ source });
    this.warnInvalid({ source, reason: error instanceof Error ? error.message : String(error) }, 'invalid message on the bus; dropped');
  }

  ready(mode: BrokerMode): void {
    if (mode !== this.current || this.switching) return;
    void this.catchUp(mode).then(() => {
      if (mode === 'postgres' && this.redis) {
        this.logger.info('Fallback to PostgreSQL direct LISTEN successful - realtime features recovered');
      }
    });
  }

  down(mode: BrokerMode, error: Error): void {
    if (this.closed || mode !== this.current) return;
    this.downSince = Math.min(this.downSince, Date.now());
    if (mode === 'redis') this.fallBack(error);
    else this.logger.warn({ err: error }, 'PostgreSQL LISTEN connection lost; reconnecting');
  }

  private fallBack(error: Error): void {
    if (this.current === 'postgres' || this.closed) return;
    this.logger.warn(`Redis connection failed: ${error.message}. Attempting fallback to PostgreSQL direct LISTEN.`);
    this.logger.info('Switching to PostgreSQL direct LISTEN fallback mode');
    this.current = 'postgres';
    this.metrics.brokerSwitches.inc({ to: 'postgres' });
    this.setModeGauge();
    this.startPg();
    this.probe = setInterval(() => void this.probeRedis(), this.config.broker.redisProbeIntervalMs);
    this.probe.unref();
  }

  private startPg(): void {
    this.pg ??= new PgBroker(
      { connectionString: this.config.databaseUrl, channels: this.config.notifyChannels },
      this,
      this.logger,
    );
    this.pg.start();
  }

  /** Switches back once Redis and the listener's heartbeat are healthy again. */
  private async probeRedis(): Promise<void> {
    if (this.current !== 'postgres' || !this.redis?.healthy() || this.switching) return;
    this.switching = true;
    try {
      this.logger.info('Redis connectivity restored, switching back to Redis mode');
      clearInterval(this.probe);
      this.current = 'redis';
      this.metrics.brokerSwitches.inc({ to: 'redis' });
      this.setModeGauge();
      // Redis has been delivering alongside Postgres since it came back; catch up on
      // anything neither carried, then drop the extra LISTEN connection.
      await this.catchUp('redis');
      const pg = this.pg;
      this.pg = undefined;
      await pg?.close();
      this.logger.info('Switch back to Redis mode successful');
    } finally {
      this.switching = false;
    }
  }

  private async catchUp(mode: BrokerMode): Promise<void> {
    if (this.closed) return;
    const started = Date.now();
    const since = Number.isFinite(this.downSince) ? started - this.downSince : 0;
    const windowMs = since + this.config.broker.catchUpMarginMs;
    try {
      const streams = await this.sequencer.catchUp(windowMs);
      this.downSince = Number.POSITIVE_INFINITY;
      const seconds = (Date.now() - started) / 1000;
      this.metrics.catchUpSeconds.observe(seconds);
      this.logger.info({ mode, streams_behind: streams, duration_ms: Date.now() - started }, 'outbox catch-up done');
    } catch (error) {
      this.logger.error({ err: error, mode }, 'outbox catch-up failed; retrying');
      setTimeout(() => void this.catchUp(mode), 1000).unref();
    }
  }

  private setModeGauge(): void {
    this.metrics.brokerMode.set({ mode: 'redis' }, this.current === 'redis' ? 1 : 0);
    this.metrics.brokerMode.set({ mode: 'postgres' }, this.current === 'postgres' ? 1 : 0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.probe);
    clearTimeout(this.startupCheck);
    const brokers: (Broker | undefined)[] = [this.redis, this.pg];
    await Promise.all(brokers.map((broker) => broker?.close()));
  }
}
