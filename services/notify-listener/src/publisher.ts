import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import { exponentialMs, type BusSignature, type Logger } from '@matchcast/runtime';
import type { ListenerMetrics } from './metrics';

export interface PublisherOptions {
  url: string;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  /** Reconnect backoff cap; the first retry comes after 100 ms, doubling up to this. */
  reconnectMaxDelayMs: number;
  connectionName: string;
  /** Signs every message (BUS_SIGNING_KEYS); undefined: published as is. */
  signature: BusSignature | undefined;
  logger: Logger;
  metrics: ListenerMetrics;
}

export interface PublisherEvents {
  up: [];
  down: [];
}

const FIRST_RETRY_MS = 100;
/** At most one "publish failed" line per interval; the rest are counted in it (and in metrics). */
const FAILURE_LOG_INTERVAL_MS = 1000;

/**
 * The Redis publishing connection. It fails fast and never queues: with the offline queue off,
 * a PUBLISH while Redis is down is rejected at once, counted and logged. Nothing is resent
 * later (that could reorder events); gateways see the seq gap and read the outbox instead.
 */
export class Publisher extends EventEmitter<PublisherEvents> {
  private readonly redis: Redis;
  private readonly logger: Logger;
  private readonly metrics: ListenerMetrics;
  private readonly signature: BusSignature | undefined;
  private closed: Promise<void> | undefined;
  private isUp = false;
  private failuresSinceLog = 0;
  private lastFailureLogAt = 0;

  constructor(options: PublisherOptions) {
    super();
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.signature = options.signature;
    this.metrics.redisUp.set(0);
    this.redis = new Redis(options.url, {
      enableOfflineQueue: false,
      // A command in flight when the connection drops is failed, not retried after the reconnect.
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: options.connectTimeoutMs,
      keepAlive: 1000,
      connectionName: options.connectionName,
      // Retries forever; a short cap so forwarding resumes within a second of Redis returning.
      retryStrategy: (times) => exponentialMs(times - 1, FIRST_RETRY_MS, options.reconnectMaxDelayMs),
      // Never give up on the connection because of a READONLY/LOADING reply either.
      reconnectOnError: (error) => /READONLY|LOADING/.test(error.message),
    });
    this.redis.on('ready', () => {
      this.isUp = true;
      this.metrics.redisUp.set(1);
      this.logger.info({ redis: redactHost(options.url) }, 'Connected to Redis');
      this.emit('up');
    });
    this.redis.on('error', (error: Error) => {
      this.logger.error({ err: error, code: (error as { code?: string }).code }, `Connection error: ${error.message}`);
    });
    this.redis.on('close', () => this.markDown('Redis connection closed'));
    this.redis.on('reconnecting', (delayMs: number) => {
      this.logger.info({ delay_ms: delayMs }, `Reconnecting in ${Number((delayMs / 1000).toFixed(1))} seconds...`);
    });
  }

  /** True while the connection is ready for commands. */
  get up(): boolean {
    return this.isUp;
  }

  /**
   * Publishes one message; resolves true once Redis acknowledged it, false when it failed
   * (never rejects). Calls are written to the socket in call order, so order holds.
   */
  publish(channel: string, message: string): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return this.redis.publish(channel, this.signature ? this.signature.sign(channel, message) : message).then(
      () => true,
      (error: Error) => {
        this.onFailure(error);
        return false;
      },
    );
  }

  private onFailure(error: Error): void {
    this.failuresSinceLog += 1;
    const now = Date.now();
    if (now - this.lastFailureLogAt >= FAILURE_LOG_INTERVAL_MS) {
      this.logger.error({ err: error, failed: this.failuresSinceLog }, 'publish to Redis failed; dropped (gateways recover from the outbox)');
      this.failuresSinceLog = 0;
      this.lastFailureLogAt = now;
    }
    // A timeout means Redis (or the link) is stuck while the socket looks open: drop it and
    // reconnect, so what was written but not sent is discarded instead of arriving late.
    if (/timed out/i.test(error.message) && this.redis.status === 'ready') {
      this.markDown('Redis did not answer within the command timeout; reconnecting');
      this.redis.disconnect(true);
    }
  }

  private markDown(reason: string, level: 'info' | 'warn' = 'warn'): void {
    if (!this.isUp) return;
    this.isUp = false;
    this.metrics.redisUp.set(0);
    this.logger[level]({}, reason);
    this.emit('down');
  }

  /** QUIT politely (bounded by the command timeout), then drop the socket. Safe twice. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      try {
        if (this.redis.status === 'ready') await this.redis.quit();
      } catch {
        // fall through to disconnect
      }
      this.redis.disconnect(false);
      this.markDown('Redis publisher closed', 'info');
    })();
    return this.closed;
  }
}

function redactHost(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || 6379}`;
  } catch {
    return '<unparseable url>';
  }
}
