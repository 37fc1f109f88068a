import { hostname } from 'node:os';
import { ID_PATTERN, NOTIFY_CHANNELS } from '@matchcast/protocol';
import { BusSignature, EnvReader, ConfigError, distinctPorts, POSTGRES_PROTOCOLS, REDIS_PROTOCOLS, LOG_LEVELS, parseAllowedOrigins } from '@matchcast/runtime';
import { readAuthConfig, type AuthConfig } from '@matchcast/auth';

export interface Config {
  /** This gateway's name in the cluster: its canary stream and presence snapshot (GATEWAY_ID). */
  gatewayId: string;
  port: number;
  /** Ops HTTP server (/healthz /readyz /metrics), kept off the client port. Port 0 picks a free one (tests). */
  opsPort: number;
  host: string;
  /** The listen() backlog: connections the kernel queues before accept (capped by net.core.somaxconn). */
  listenBacklog: number;
  databaseUrl: string;
  /** Connections of the gateway's main pool (authorization, catch-ups, pruning, canary); replays have their own. */
  pgPoolMax: number;
  /** Undefined: Postgres LISTEN mode only (the rollback mode, USE_REDIS_NOTIFIER=false). */
  redisUrl: string | undefined;
  notifyChannels: string[];
  ws: {
    maxConnections: number;
    /**
     * TCP connections the client port holds in all, whatever they are doing (capConnections):
     * the stream cap and half again, at least 1,000 more, for handshakes in flight and REST
     * requests. Admission answers SERVER_FULL at the stream cap; this bites only on connections
     * that never become streams.
     */
    maxSockets: number;
    /** Readiness fails at this many clients (READY_MAX_CONNECTIONS_RATIO of maxConnections). */
    readyMaxConnections: number;
    pingIntervalMs: number;
    pingTimeoutMs: number;
    maxPayloadBytes: number;
    maxBufferedBytes: number;
    maxChannels: number;
    messagesPerSecond: number;
  };
  broker: {
    heartbeatTimeoutMs: number;
    redisProbeIntervalMs: number;
    redisCommandTimeoutMs: number;
    catchUpMarginMs: number;
    /** How often the heads of the streams that moved are compared with what was delivered here (0 = off). */
    positionCheckIntervalMs: number;
    /** Checks the signature of everything on Redis (BUS_SIGNING_KEYS, the listener's keys); undefined: unsigned. */
    busSignature: BusSignature | undefined;
  };
  history: { maxReplayEvents: number; retentionMs: number; pruneIntervalMs: number };
  auth: AuthConfig;
  edge: {
    /** Browser origins allowed on WS upgrade, SSE and REST (CORS); undefined = any origin. */
    allowedOrigins: readonly string[] | undefined;
    /** Proxies in front of the gateway whose X-Forwarded-For entries are trusted. */
    trustedProxyHops: number;
    /** Open connections per client address (0 = no limit). */
    maxConnectionsPerIp: number;
    /** New connections per second per client address, burst twice that (0 = no limit). */
    connectionsPerIpPerSecond: number;
    /** Open connections per user (a token's `sub`), whatever their addresses (0 = no limit). */
    maxConnectionsPerUser: number;
    /** With Redis: how long a connection's place in the cluster-wide per-user count lasts unrenewed (renewed every third of it). */
    userCapLeaseMs: number;
    /** With Redis: how long admission waits for the cluster-wide count before deciding on this process's alone. */
    userCapRedisTimeoutMs: number;
  };
  replay: { concurrency: number; statementTimeoutMs: number; pageSize: number };
  /** Recent events kept in memory to answer resumes without the outbox (0 events: off). */
  memoryHistory: { eventsPerStream: number; bytesPerStream: number; totalEvents: number; totalBytes: number };
  sse: {
    /**
     * Signs SSE position tokens (Last-Event-ID); the same secret on every gateway, so a browser
     * resumes on any of them. Undefined: a random key per process (tokens do not survive a move).
     */
    positionKey: Buffer | undefined;
    /** Longest position token issued or accepted. */
    maxTokenLength: number;
  };
  drain: { delayMs: number; batchSize: number; batchIntervalMs: number };
  /** The delivery canary (canary/): a probe every intervalMs (0 = off), failed after timeoutMs. */
  canary: { intervalMs: number; timeoutMs: number };
  /** How often the presence snapshot goes to Redis (presence/), for the API's admin views; 0 = never. */
  presenceIntervalMs: number;
  shutdownTimeoutMs: number;
  logLevel: string;
}

export function loadConfig(env = new EnvReader()): Config {
  const redisUrl = env.url('REDIS_URL', REDIS_PROTOCOLS);
  const useRedis = env.bool('USE_REDIS_NOTIFIER', redisUrl !== undefined);
  if (useRedis && !redisUrl) throw new ConfigError('REDIS_URL', 'is required when USE_REDIS_NOTIFIER=true');
  const maxConnections = env.int('WS_MAX_CONNECTIONS', 10_000, { min: 1, max: 100_000 });
  const readyRatio = env.number('READY_MAX_CONNECTIONS_RATIO', 0.9, { min: 0.01, max: 1 });
  const pingIntervalMs = env.durationMs('WS_PING_INTERVAL_MS', 25_000, { min: 1000, secondsAlias: 'WS_PING_INTERVAL' });
  const shutdownTimeoutMs = env.durationMs('SHUTDOWN_TIMEOUT_MS', 25_000, { min: 1000 });
  const drainDelayMs = env.durationMs('DRAIN_DELAY_MS', 5000);
  // The drain runs inside the shutdown deadline: a delay as long as it ends the process before any client is told to reconnect.
  if (drainDelayMs >= shutdownTimeoutMs) {
    throw new ConfigError('DRAIN_DELAY_MS', `must be less than SHUTDOWN_TIMEOUT_MS (${shutdownTimeoutMs}), got ${drainDelayMs}`);
  }
  const port = env.int('PORT', 8080, { min: 0, max: 65535 });
  const opsPort = env.int('OPS_PORT', 8083, { min: 0, max: 65535 });
  distinctPorts({ PORT: port, OPS_PORT: opsPort });
  const config: Config = {
    gatewayId: gatewayId(env.string('GATEWAY_ID', defaultGatewayId())),
    port,
    opsPort,
    host: env.host('HOST', '0.0.0.0'),
    listenBacklog: env.int('LISTEN_BACKLOG', 4096, { min: 1, max: 65_535 }),
    databaseUrl: env.requiredUrl('DATABASE_URL', POSTGRES_PROTOCOLS),
    pgPoolMax: env.int('PG_POOL_MAX', 8, { min: 1, max: 200 }),
    redisUrl: useRedis ? redisUrl : undefined,
    notifyChannels: env.list('NOTIFY_CHANNELS', NOTIFY_CHANNELS, { allowed: NOTIFY_CHANNELS, nonEmpty: true }),
    ws: {
      maxConnections,
      maxSockets: maxConnections + Math.max(1000, Math.ceil(maxConnections / 2)),
      readyMaxConnections: Math.max(1, Math.floor(maxConnections * readyRatio)),
      pingIntervalMs,
      pingTimeoutMs: env.durationMs('WS_PING_TIMEOUT_MS', 60_000, { min: 1000, secondsAlias: 'WS_PING_TIMEOUT' }),
      maxPayloadBytes: env.int('WS_MAX_PAYLOAD_BYTES', 4096, { min: 128, max: 1_048_576 }),
      maxBufferedBytes: env.int('WS_MAX_BUFFERED_BYTES', 1_048_576, { min: 16_384, max: 67_108_864 }),
      maxChannels: env.int('WS_MAX_CHANNELS', 100, { min: 1, max: 10_000 }),
      messagesPerSecond: env.int('WS_MESSAGES_PER_SECOND', 20, { min: 1, max: 1000 }),
    },
    broker: {
      heartbeatTimeoutMs: env.durationMs('HEARTBEAT_TIMEOUT_MS', 1000, { min: 100 }),
      redisProbeIntervalMs: env.durationMs('REDIS_PROBE_INTERVAL_MS', 2000, { min: 100 }),
      redisCommandTimeoutMs: env.durationMs('REDIS_COMMAND_TIMEOUT_MS', 500, { min: 50 }),
      catchUpMarginMs: env.durationMs('CATCH_UP_MARGIN_MS', 60_000, { min: 1000 }),
      positionCheckIntervalMs: env.durationMs('POSITION_CHECK_INTERVAL_MS', 15_000, { min: 1000, zeroIsOff: true }),
      busSignature: BusSignature.fromEnv(env),
    },
    history: {
      // The resume window: rows younger than retention OR among a stream's last
      // maxReplayEvents are kept; a client further behind gets RESUME_TOO_OLD.
      maxReplayEvents: env.int('HISTORY_MAX_EVENTS_PER_STREAM', 10_000, { min: 1, max: 1_000_000 }),
      retentionMs: env.durationMs('HISTORY_RETENTION_MS', 3_600_000, { min: 60_000, max: 30 * 86_400_000 }),
      pruneIntervalMs: env.durationMs('OUTBOX_PRUNE_INTERVAL_MS', 60_000, { min: 1000, zeroIsOff: true }),
    },
    auth: readAuthConfig(env),
    edge: {
      allowedOrigins: parseAllowedOrigins(env.list('ALLOWED_ORIGINS', [])),
      trustedProxyHops: env.int('TRUSTED_PROXY_HOPS', 0, { max: 10 }),
      maxConnectionsPerIp: env.int('WS_MAX_CONNECTIONS_PER_IP', 1000, { min: 1, max: 100_000, zeroIsOff: true }),
      connectionsPerIpPerSecond: env.int('WS_CONNECTIONS_PER_IP_PER_SECOND', 100, { min: 1, max: 10_000, zeroIsOff: true }),
      maxConnectionsPerUser: env.int('WS_MAX_CONNECTIONS_PER_USER', 100, { min: 1, max: 100_000, zeroIsOff: true }),
      userCapLeaseMs: env.durationMs('USER_CAP_LEASE_MS', 30_000, { min: 1000, max: 3_600_000 }),
      userCapRedisTimeoutMs: env.durationMs('USER_CAP_REDIS_TIMEOUT_MS', 50, { min: 5, max: 1000 }),
    },
    replay: {
      concurrency: env.int('REPLAY_CONCURRENCY', 4, { min: 1, max: 64 }),
      statementTimeoutMs: env.durationMs('REPLAY_STATEMENT_TIMEOUT_MS', 5000, { min: 100 }),
      pageSize: env.int('REPLAY_PAGE_SIZE', 1000, { min: 10, max: 10_000 }),
    },
    memoryHistory: {
      eventsPerStream: env.int('MEMORY_HISTORY_EVENTS_PER_STREAM', 1000, { min: 1, max: 100_000, zeroIsOff: true }),
      bytesPerStream: env.int('MEMORY_HISTORY_BYTES_PER_STREAM', 1_048_576, { max: 67_108_864 }),
      totalEvents: env.int('MEMORY_HISTORY_MAX_EVENTS', 200_000, { min: 1, max: 1_000_000, zeroIsOff: true }),
      totalBytes: env.int('MEMORY_HISTORY_MAX_BYTES', 67_108_864, { max: 1_073_741_824 }),
    },
    sse: {
      positionKey: positionKey(env.optionalString('SSE_POSITION_KEY')),
      maxTokenLength: env.int('SSE_MAX_TOKEN_LENGTH', 4096, { min: 256, max: 8192 }),
    },
    drain: {
      delayMs: drainDelayMs,
      batchSize: env.int('DRAIN_BATCH_SIZE', 500, { min: 1, max: 100_000 }),
      batchIntervalMs: env.durationMs('DRAIN_BATCH_INTERVAL_MS', 100),
    },
    canary: {
      intervalMs: env.durationMs('CANARY_INTERVAL_MS', 5000, { min: 100, zeroIsOff: true }),
      timeoutMs: env.durationMs('CANARY_TIMEOUT_MS', 2000, { min: 50 }),
    },
    presenceIntervalMs: env.durationMs('PRESENCE_INTERVAL_MS', 5000, { min: 100, zeroIsOff: true }),
    shutdownTimeoutMs,
    logLevel: env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
  };
  return Object.freeze(config);
}


/** At least 32 bytes of secret (e.g. `openssl rand -base64 48`), used as given. */
function positionKey(value: string | undefined): Buffer | undefined {
  if (value === undefined) return undefined;
  const key = Buffer.from(value, 'utf8');
  if (key.length < 32) throw new ConfigError('SSE_POSITION_KEY', 'must be at least 32 bytes (e.g. openssl rand -base64 48)');
  return key;
}

/** The pod's name in Kubernetes (its hostname), plus the pid so that gateways sharing a host differ. */
function defaultGatewayId(): string {
  const suffix = `-${process.pid}`;
  return hostname().replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64 - suffix.length) + suffix;
}

function gatewayId(value: string): string {
  if (!ID_PATTERN.test(value)) throw new ConfigError('GATEWAY_ID', `must match ${ID_PATTERN.source}`);
  return value;
}
