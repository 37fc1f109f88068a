import type { Registry } from 'prom-client';
import { ListenConnection, type ListenState } from '@matchcast/db';
import { REDIS_EVENTS_CHANNEL, REDIS_HEARTBEAT_CHANNEL, decodeNotification, type ForwardedNotification } from '@matchcast/protocol';
import { createRegistry, listenOps, opsRoutes, redactUrl, throttledWarn, type Logger } from '@matchcast/runtime';
import type { Config } from './config';
import { HeartbeatPublisher } from './heartbeat';
import { createListenerMetrics } from './metrics';
import { Publisher } from './publisher';

export interface ListenerStatus {
  pg: ListenState;
  redis: boolean;
  leader: boolean;
}

export interface RunningListener {
  readonly id: string;
  /** The ops HTTP port actually bound (differs from config.port when that is 0). */
  readonly port: number;
  readonly registry: Registry;
  status(): ListenerStatus;
  /** Releases the leader lock first (so a standby takes over at once), then Redis and HTTP. Safe twice. */
  close(): Promise<void>;
}

/**
 * Wires one listener: a LISTEN connection that listens only while it holds the leader lock,
 * a Redis publisher that forwards each notification as it arrives, the heartbeat, and the
 * ops HTTP server. Connections are made in the background and retried forever.
 */
export async function startListener(config: Config, logger: Logger): Promise<RunningListener> {
  const registry = createRegistry('notify-listener');
  const metrics = createListenerMetrics(registry);
  metrics.leader.set(0);
  metrics.pgUp.set(0);

  const publisher = new Publisher({
    url: config.redisUrl,
    commandTimeoutMs: config.redisCommandTimeoutMs,
    connectTimeoutMs: config.redisConnectTimeoutMs,
    reconnectMaxDelayMs: config.redisReconnectMaxDelayMs,
    connectionName: `matchcast-listener-${config.listenerId}`.replace(/[^\w.-]/g, '_'),
    signature: config.busSignature,
    logger,
    metrics,
  });

  const listen = new ListenConnection({
    connectionString: config.databaseUrl,
    channels: config.notifyChannels,
    logger,
    leaderLockKey: config.lockKey,
    standbyPollMs: config.standbyPollMs,
    healthCheckIntervalMs: config.healthCheckIntervalMs,
    healthCheckTimeoutMs: config.healthCheckTimeoutMs,
    reconnectDelayMs: config.reconnectDelayMs,
    applicationName: `matchcast-listener ${config.listenerId}`.slice(0, 63),
    verifySignatures: true,
  });

  let publishedSinceLeader = 0;
  let droppedSinceLeader = 0;
  const heartbeat = new HeartbeatPublisher({
    intervalMs: config.heartbeatIntervalMs,
    channel: REDIS_HEARTBEAT_CHANNEL,
    listenerId: config.listenerId,
    publisher,
    metrics,
    isLeader: () => listen.state === 'listening',
    published: () => publishedSinceLeader,
    dropped: () => droppedSinceLeader,
  });

  const warnInvalid = throttledWarn(logger);
  const invalid = (channel: string, error: Error) => {
    metrics.invalid.inc();
    warnInvalid({ pg_channel: channel, reason: error.message }, 'invalid notification payload; not forwarded');
  };
  // Any database role may NOTIFY these channels: forward only what the outbox code signed and wrote.
  listen.on('rejected', (channel, error) => {
    metrics.received.inc();
    invalid(channel, error);
  });
  listen.on('notification', (channel, payload) => {
    metrics.received.inc();
    try {
      decodeNotification(payload);
    } catch (error) {
      invalid(channel, error as Error);
      return;
    }
    const envelope: ForwardedNotification = { channel, payload };
    const endTimer = metrics.publishDuration.startTimer();
    void publisher.publish(REDIS_EVENTS_CHANNEL, JSON.stringify(envelope)).then((ok) => {
      if (ok) {
        endTimer();
        publishedSinceLeader += 1;
        metrics.forwarded.inc();
      } else {
        droppedSinceLeader += 1;
        metrics.publishFailures.inc();
      }
    });
  });
  listen.on('listening', () => {
    publishedSinceLeader = 0;
    droppedSinceLeader = 0;
    metrics.pgUp.set(1);
    metrics.leader.set(1);
    logger.info({ listener_id: config.listenerId, lock_key: config.lockKey }, 'leader: forwarding notifications to Redis');
    heartbeat.beat();
  });
  listen.on('standby', () => {
    metrics.pgUp.set(1);
    metrics.leader.set(0);
  });
  listen.on('lost', () => {
    metrics.pgUp.set(0);
    metrics.leader.set(0);
    metrics.pgLosses.inc();
  });
  publisher.on('up', () => heartbeat.beat());

  const pgConnected = () => listen.state === 'listening' || listen.state === 'standby';
  const status = (): ListenerStatus => ({ pg: listen.state, redis: publisher.up, leader: listen.state === 'listening' });
  // /healthz: the process is alive; /readyz: connected to Postgres (leader or standby) and Redis.
  const ops = await listenOps(
    opsRoutes(
      registry,
      () => ({ ok: true }),
      () => ({ ok: pgConnected() && publisher.up, detail: { ...status() } }),
    ),
    { port: config.port, host: config.host, portVariable: 'LISTENER_PORT', hostVariable: 'LISTENER_HOST' },
    logger,
  );

  logger.info(
    {
      listener_id: config.listenerId,
      database: redactUrl(config.databaseUrl),
      redis: redactUrl(config.redisUrl),
      channels: config.notifyChannels,
      port: ops.port,
    },
    'notify-listener started',
  );
  heartbeat.start();
  listen.start();

  let closing: Promise<void> | undefined;
  return {
    id: config.listenerId,
    port: ops.port,
    registry,
    status,
    close() {
      closing ??= (async () => {
        heartbeat.close();
        await listen.close();
        metrics.leader.set(0);
        metrics.pgUp.set(0);
        await publisher.close();
        await ops.close();
      })();
      return closing;
    },
  };
}
