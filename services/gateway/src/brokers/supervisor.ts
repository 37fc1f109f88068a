import type { OutboxEvent, OutboxRef } from '@matchcast/protocol';
import { throttledWarn, type Logger } from '@matchcast/runtime';
import type { Broker, BrokerListener, BrokerMode, InvalidSource } from './broker';

export interface SupervisorOptions {
  /** No listener heartbeat this long after start: deliver through Postgres meanwhile (twice this). */
  heartbeatTimeoutMs: number;
  redisProbeIntervalMs: number;
  /** How far before the moment a path was lost a catch-up reaches (long transactions). */
  catchUpMarginMs: number;
}

/** Where events go, and who reads the outbox for what no path carried: the sequencer. */
export interface EventSink {
  accept(item: OutboxEvent | OutboxRef, source: BrokerMode): void;
  catchUp(windowMs: number): Promise<number>;
}

/** What the supervisor reports; the gateway's metrics fit it. */
export interface SupervisorMetrics {
  brokerMode: { set(labels: { mode: BrokerMode }, value: number): void };
  brokerSwitches: { inc(labels: { to: BrokerMode }): void };
  catchUpSeconds: { observe(seconds: number): void };
  invalidMessages: { inc(labels: { source: InvalidSource }): void };
}

export interface Brokers {
  /** The Redis path; undefined runs Postgres LISTEN mode only. */
  redis: Broker | undefined;
  /** A new Postgres LISTEN path, started on demand so that normally the cluster holds one LISTEN. */
  postgres: () => Broker;
}

/**
 * Runs Redis mode normally and the gateway's own Postgres LISTEN while Redis (or the
 * listener's heartbeat through it) is down, probing to switch back. Both paths feed the
 * sink, which drops duplicates, so overlap during a switch is harmless; every (re)connect
 * and every switch runs an outbox catch-up for what no path carried.
 * The log lines are the ones the operations runbook greps for.
 */
export class BrokerSupervisor implements BrokerListener {
  private current: BrokerMode;
  private pg: Broker | undefined;
  private probe: NodeJS.Timeout | undefined;
  private startupCheck: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  /** When the active path was last lost; the catch-up window reaches back to it. */
  private downSince: number;
  private closed = false;
  private switching = false;
  /** The catch-up running now, and the one waiting to run after it (see catchUp). */
  private catchUpRunning: Promise<void> | undefined;
  private catchUpNext: Promise<void> | undefined;
  private readonly warnInvalid: ReturnType<typeof throttledWarn>;

  constructor(
    private readonly brokers: Brokers,
    private readonly sink: EventSink,
    private readonly options: SupervisorOptions,
    private readonly metrics: SupervisorMetrics,
    private readonly logger: Logger,
  ) {
    this.current = brokers.redis ? 'redis' : 'postgres';
    this.downSince = Date.now();
    this.warnInvalid = throttledWarn(logger);
  }

  get mode(): BrokerMode {
    return this.current;
  }

  /** True while some path delivers events (readiness). */
  delivering(): boolean {
    return (this.current === 'redis' ? this.brokers.redis : this.pg)?.healthy() ?? false;
  }

  start(): void {
    this.setModeGauge();
    const redis = this.brokers.redis;
    if (!redis) {
      this.logger.info('Redis not configured: using PostgreSQL direct LISTEN');
      this.startPg();
      return;
    }
    redis.start(this);
    // No heartbeat soon after start (Redis or listener absent): deliver through Postgres meanwhile.
    const grace = this.options.heartbeatTimeoutMs * 2;
    this.startupCheck = setTimeout(() => {
      if (this.current === 'redis' && !redis.healthy()) this.fallBack(new Error(`no listener heartbeat within ${grace} ms of start`));
    }, grace);
    this.startupCheck.unref();
  }

  event(item: OutboxEvent | OutboxRef, mode: BrokerMode): void {
    this.sink.accept(item, mode);
  }

  invalid(source: InvalidSource, error: unknown): void {
    this.metrics.invalidMessages.inc({ source });
    this.warnInvalid({ source, reason: error instanceof Error ? error.message : String(error) }, 'invalid message on the bus; dropped');
  }

  /**
   * The active path (re)connected, or its heartbeat says the listener missed publishes: catch up.
   * Also while switching back: news then (publishes dropped after the switch's catch-up read the
   * heads) needs a catch-up of its own, as the extra LISTEN that carried them is closing.
   */
  ready(mode: BrokerMode): void {
    if (mode !== this.current || this.closed) return;
    void this.catchUp(mode).then(() => {
      if (mode === 'postgres' && this.brokers.redis) {
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
    this.probe = setInterval(() => void this.probeRedis(), this.options.redisProbeIntervalMs);
    this.probe.unref();
  }

  private startPg(): void {
    if (this.pg) return;
    this.pg = this.brokers.postgres();
    this.pg.start(this);
  }

  /** Switches back once Redis and the listener's heartbeat are healthy again. */
  private async probeRedis(): Promise<void> {
    if (this.current !== 'postgres' || !this.brokers.redis?.healthy() || this.switching || this.closed) return;
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

  /**
   * Catch-ups run one at a time, whoever asks. A request while one runs gets exactly one more
   * after it (the running one may have read the heads before what the request is about was
   * committed), shared by every request until that one starts: a burst of requests costs two
   * catch-ups, never one each. Resolves once a catch-up started after the request has ended.
   */
  private catchUp(mode: BrokerMode): Promise<void> {
    if (this.catchUpRunning) {
      this.catchUpNext ??= this.catchUpRunning.then(() => {
        this.catchUpNext = undefined;
        return this.catchUp(mode);
      });
      return this.catchUpNext;
    }
    this.catchUpRunning = this.runCatchUp(mode).finally(() => {
      this.catchUpRunning = undefined;
    });
    return this.catchUpRunning;
  }

  private async runCatchUp(mode: BrokerMode): Promise<void> {
    if (this.closed) return;
    const started = Date.now();
    const since = Number.isFinite(this.downSince) ? started - this.downSince : 0;
    try {
      const streams = await this.sink.catchUp(since + this.options.catchUpMarginMs);
      this.downSince = Number.POSITIVE_INFINITY;
      this.metrics.catchUpSeconds.observe((Date.now() - started) / 1000);
      this.logger.info({ mode, streams_behind: streams, duration_ms: Date.now() - started }, 'outbox catch-up done');
    } catch (error) {
      if (this.closed) return;
      this.logger.error({ err: error, mode }, 'outbox catch-up failed; retrying');
      clearTimeout(this.retry);
      this.retry = setTimeout(() => void this.catchUp(mode), 1000);
      this.retry.unref();
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
    clearTimeout(this.retry);
    await Promise.all([this.brokers.redis?.close(), this.pg?.close()]);
  }
}
