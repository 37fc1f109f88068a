import pg from 'pg';
import type { Registry } from 'prom-client';
import { abortableSleep, asError, createRegistry, listenOps, opsRoutes, redactUrl, type Logger } from '@matchcast/runtime';
import { announcementLoop } from './announcements';
import { pruneNotifications } from './cleanup';
import type { Config } from './config';
import { Leadership } from './leadership';
import { createNotifierMetrics } from './metrics';
import { Worker } from './worker';

export interface NotifierStatus {
  leader: boolean;
  pg: boolean;
}

export interface RunningNotifier {
  /** The ops HTTP port actually bound (differs from config.port when that is 0). */
  readonly port: number;
  readonly registry: Registry;
  status(): NotifierStatus;
  /** Stops working, releases the leader lock (a standby takes over), closes the pool and HTTP. Safe twice. */
  close(): Promise<void>;
}

/**
 * Wires one notifier: the leader election connection, and — while this process leads — the
 * outbox worker, the cleanup rounds and the announcement rounds (timed publishing and expiry)
 * on a small pool; the ops HTTP server. A standby is
 * ready too (it is doing its job: standing by).
 */
export async function startNotifier(config: Config, logger: Logger): Promise<RunningNotifier> {
  const registry = createRegistry('notifier');
  const metrics = createNotifierMetrics(registry);
  metrics.leader.set(0);

  // Timeouts so that a frozen server turns into a retried error instead of a hung batch.
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max: 3,
    application_name: `matchcast-notifier ${config.notifierId}`.slice(0, 63),
    connectionTimeoutMillis: 5_000,
    query_timeout: 60_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  pool.on('error', (error) => logger.warn({ err: error }, 'idle database connection failed'));

  const worker = new Worker({
    pool,
    logger,
    metrics,
    batchSize: config.batchSize,
    eventsPerPoll: config.eventsPerPoll,
    pollIntervalMs: config.pollIntervalMs,
    notificationTtlMs: config.notificationTtlMs,
  });
  const leadership = new Leadership({ connectionString: config.databaseUrl, logger, notifierId: config.notifierId });

  // One term per leadership: work and cleanup run until it aborts.
  let term: AbortController | undefined;
  const running = new Set<Promise<unknown>>();
  const track = (promise: Promise<unknown>) => {
    running.add(promise);
    void promise.finally(() => running.delete(promise));
  };
  const cleanupLoop = async (signal: AbortSignal) => {
    while (!signal.aborted) {
      await pruneNotifications(
        { pool, logger, metrics, retentionMs: config.retentionMs, maxPerUser: config.maxPerUser, chunkSize: config.batchSize },
        signal,
      );
      await abortableSleep(config.cleanupIntervalMs, signal);
    }
  };

  leadership.on('acquired', () => {
    term?.abort();
    term = new AbortController();
    metrics.leader.set(1);
    logger.info({ notifier_id: config.notifierId }, 'leader: notifying followers');
    const signal = term.signal;
    // A previous term's worker may still be finishing its last statement: let it, first.
    const previous = Promise.all([...running]);
    track(previous.then(() => worker.run(signal)).catch((error: unknown) => logger.error({ err: asError(error) }, 'notifier worker stopped')));
    track(previous.then(() => cleanupLoop(signal)).catch((error: unknown) => logger.error({ err: asError(error) }, 'cleanup loop stopped')));
    track(
      previous
        .then(() => announcementLoop({ pool, logger, metrics, intervalMs: config.announcementIntervalMs, limit: config.batchSize }, signal))
        .catch((error: unknown) => logger.error({ err: asError(error) }, 'announcement loop stopped')),
    );
  });
  let closing: Promise<void> | undefined;
  leadership.on('lost', () => {
    term?.abort();
    term = undefined;
    metrics.leader.set(0);
    if (!closing) logger.warn({ notifier_id: config.notifierId }, 'leadership lost: work stopped');
  });
  leadership.on('wake', () => worker.wake());

  const status = (): NotifierStatus => ({ leader: leadership.isLeader, pg: leadership.connected });
  // /readyz: connected, as leader or standby (a standby is doing its job).
  const ops = await listenOps(
    opsRoutes(
      registry,
      () => ({ ok: true }),
      () => ({ ok: leadership.connected, detail: { ...status() } }),
    ),
    { port: config.port, portVariable: 'OPS_PORT' },
    logger,
  );
  logger.info(
    {
      notifier_id: config.notifierId,
      database: redactUrl(config.databaseUrl),
      port: ops.port,
      batch_size: config.batchSize,
      events_per_poll: config.eventsPerPoll,
    },
    'notifier started',
  );
  leadership.start();

  return {
    port: ops.port,
    registry,
    status,
    close() {
      closing ??= (async () => {
        term?.abort();
        // The in-flight transaction commits or rolls back before the lock is released.
        await Promise.all(running);
        await leadership.close();
        metrics.leader.set(0);
        await ops.close();
        await pool.end();
      })();
      return closing;
    },
  };
}
