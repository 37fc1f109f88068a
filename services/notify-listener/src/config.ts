import { hostname } from 'node:os';
import { BusSignature, ConfigError, EnvReader, POSTGRES_PROTOCOLS, REDIS_PROTOCOLS, LOG_LEVELS } from '@matchcast/runtime';
import { LISTENER_ID_MAX_LENGTH, NOTIFY_CHANNELS } from '@matchcast/protocol';


export interface Config {
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** Postgres NOTIFY channels to LISTEN on (the seven `<table>_change` channels by default). */
  readonly notifyChannels: readonly string[];
  /** Ops HTTP server (/healthz /readyz /metrics). Port 0 picks a free one (tests). */
  readonly host: string;
  readonly port: number;
  /** Advisory lock key: the holder is the one listener that LISTENs and publishes. */
  readonly lockKey: number;
  readonly heartbeatIntervalMs: number;
  /** Postgres reconnect backoff base (5 s by default, as operators expect). */
  readonly reconnectDelayMs: number;
  readonly standbyPollMs: number;
  readonly healthCheckIntervalMs: number;
  readonly healthCheckTimeoutMs: number;
  readonly redisCommandTimeoutMs: number;
  readonly redisConnectTimeoutMs: number;
  /** Redis reconnect backoff cap: short, so forwarding (and heartbeats) resume soon after Redis returns. */
  readonly redisReconnectMaxDelayMs: number;
  /** Signs what is published (BUS_SIGNING_KEYS, the gateways' keys); undefined: unsigned. */
  readonly busSignature: BusSignature | undefined;
  readonly listenerId: string;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly shutdownTimeoutMs: number;
}

/** Reads the listener's configuration once; a bad value fails with the variable's name. */
export function loadConfig(env = new EnvReader()): Config {
  const notifyChannels = env.list('NOTIFY_CHANNELS', NOTIFY_CHANNELS, { allowed: NOTIFY_CHANNELS, nonEmpty: true });
  const listenerId = env.string('LISTENER_ID', `${hostname()}-${process.pid}`);
  // Every gateway drops a heartbeat with a longer id, so it would fall back to Postgres LISTEN for good.
  if (listenerId.length > LISTENER_ID_MAX_LENGTH) {
    throw new ConfigError('LISTENER_ID', `must be at most ${LISTENER_ID_MAX_LENGTH} characters (heartbeats carry it), got ${listenerId.length}`);
  }
  return Object.freeze({
    databaseUrl: env.requiredUrl('DATABASE_URL', POSTGRES_PROTOCOLS),
    redisUrl: env.requiredUrl('REDIS_URL', REDIS_PROTOCOLS),
    notifyChannels: Object.freeze(notifyChannels),
    host: env.host('LISTENER_HOST', '0.0.0.0'),
    port: env.int('LISTENER_PORT', 8081, { min: 0, max: 65_535 }),
    lockKey: env.int('LISTENER_LOCK_KEY', 7_246_102, { min: Number.MIN_SAFE_INTEGER }),
    heartbeatIntervalMs: env.durationMs('LISTENER_HEARTBEAT_INTERVAL_MS', 250, { min: 10 }),
    reconnectDelayMs: env.durationMs('LISTENER_RECONNECT_DELAY_MS', 5000, { min: 10 }),
    standbyPollMs: env.durationMs('LISTENER_STANDBY_POLL_MS', 1000, { min: 10 }),
    healthCheckIntervalMs: env.durationMs('LISTENER_HEALTH_CHECK_INTERVAL_MS', 2000, { min: 50 }),
    healthCheckTimeoutMs: env.durationMs('LISTENER_HEALTH_CHECK_TIMEOUT_MS', 1500, { min: 50 }),
    redisCommandTimeoutMs: env.durationMs('REDIS_COMMAND_TIMEOUT_MS', 500, { min: 10 }),
    redisConnectTimeoutMs: env.durationMs('REDIS_CONNECT_TIMEOUT_MS', 1000, { min: 10 }),
    redisReconnectMaxDelayMs: env.durationMs('REDIS_RECONNECT_MAX_DELAY_MS', 1000, { min: 10 }),
    busSignature: BusSignature.fromEnv(env),
    listenerId,
    logLevel: env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    shutdownTimeoutMs: env.durationMs('SHUTDOWN_TIMEOUT_MS', 10_000, { min: 100 }),
  });
}
