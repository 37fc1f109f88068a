import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { outboxReader } from '@matchcast/db';
import { capConnections, createHttpServer, closeUnreadBodies, createRegistry, listen, listenOps, opsRoutes, parseQuery, sleep, type Logger, type OpsServer } from '@matchcast/runtime';
import express from 'express';
import pg from 'pg';
import { PgBroker } from './brokers/pg-broker';
import { RedisBroker } from './brokers/redis-broker';
import { BrokerSupervisor } from './brokers/supervisor';
import { canarySink, createCanary } from './canary';
import { createPresence } from './presence';
import type { Config } from './config';
import { Fanout } from './delivery/fanout';
import { MemoryHistory } from './delivery/history';
import { startKeepAlive } from './delivery/keep-alive';
import { SubscriptionRegistry } from './delivery/registry';
import { PositionCheck } from './delivery/position-check';
import { Sequencer } from './delivery/sequencer';
import { readinessProbe } from './http/readiness';
import { setPageHeaders } from './http/page-headers';
import { restRoutes } from './http/rest';
import { createGatewayMetrics, memoryHistoryGauge, trackedStreamsGauge } from './metrics';
import { startRetention } from './retention';
import { TokenVerifier } from '@matchcast/auth';
import { Replayer, type Caller } from './sessions/replay';
import { LeagueAccess, leagueAccessReader } from './sessions/league-access';
import { PurchaseOwners, purchaseOwnerReader } from './sessions/purchase-owners';
import { Sessions, type Client, type StreamPositions } from './sessions/session';
import { StreamGate } from './sessions/stream-gate';
import { Admitting, type AdmissionRules } from './transport/admission';
import { createClusterUserCount } from './transport/cluster-user-count';
import { ConnectionLimits } from './transport/connection-limits';
import { errorResponder, notFound, onClientError } from './transport/http-errors';
import { OriginPolicy } from './transport/origins';
import { SSE_PATH, sseHandler } from './transport/sse';
import { PositionTokens } from './transport/sse-positions';
import { NOTIFICATION_STREAM_PATH, notificationStreamHandler } from './transport/notification-stream';
import { WsServer } from './transport/ws-server';
import { noteConnection } from './transport/write-batch';

/** The gateway's own authorization reads (purchase owners, league access): one group of its own in the client pool's turns. */
const GATEWAY_READS: Caller = { group: 'gateway', alive: () => true };

export interface Gateway {
  readonly server: Server;
  readonly port: number;
  /** /healthz, /readyz and /metrics: on their own port, never on the client port. */
  readonly ops: OpsServer;
  readonly opsPort: number;
  readonly supervisor: BrokerSupervisor;
  readonly registry: SubscriptionRegistry<Client>;
  /** Fail readiness, wait, close clients in batches with SERVER_DRAINING, then stop everything. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/** Wires the gateway: database pool, sequencer, brokers, transports, HTTP routes. */
export async function startGateway(config: Config, logger: Logger): Promise<Gateway> {
  const metricsRegistry = createRegistry('gateway');
  const metrics = createGatewayMetrics(metricsRegistry);
  const db = new pg.Pool({ connectionString: config.databaseUrl, max: config.pgPoolMax, application_name: 'matchcast-gateway' });
  db.on('error', (error) => logger.warn({ err: error }, 'idle database connection failed'));

  // Local subscriptions decide which user streams the sequencer follows.
  const registry = new SubscriptionRegistry<Client>({ track: (channel) => sequencer.track(channel), untrack: (channel) => sequencer.untrack(channel) });
  const fanout = new Fanout(
    registry,
    metrics,
    (client, error) => {
      logger.error({ err: error, connection_id: client.id }, 'delivery to a client failed; closing it');
      try {
        client.close('INTERNAL');
      } catch (closeError) {
        logger.error({ err: closeError, connection_id: client.id }, 'closing a failed client failed');
      }
    },
    (event) => sessions.audience(event),
  );
  // What the sequencer delivers is kept for a while, so that resumes need not read the outbox.
  const history = new MemoryHistory(config.memoryHistory);
  memoryHistoryGauge(metricsRegistry, () => history.size());
  // A team's or league's own events wait for one read where it is not known here (StreamGate).
  const placement = new StreamGate(
    (event) => sessions.needsPlacement(event),
    (stream) => sessions.readPlacement(stream),
    (event) => fanout.deliver(event),
    // A read taking longer than two statements may is not answered (a frozen database): the events go on as after a failed one.
    {
      maxWaitMs: 2 * config.replay.statementTimeoutMs,
      gaveUp: (stream) => logger.warn({ stream }, 'reading a stream\'s league before its events got no answer in time; its events go on'),
    },
  );
  // League access changes are applied (and open subscriptions re-checked) before an event goes out.
  const sequencer = new Sequencer(
    outboxReader(db),
    (event) => {
      sessions.observe(event);
      placement.push(event);
    },
    metrics,
    logger,
    history,
  );
  trackedStreamsGauge(metricsRegistry, () => sequencer.trackedStreams());
  // Where a resume's replay ends and live delivery begins: before what the gate still holds.
  const positions: StreamPositions = {
    lastSeq: (stream) => placement.deliveredSeq(stream) ?? sequencer.lastSeq(stream),
    known: (streams) => sequencer.known(streams),
  };
  await sequencer.init();
  // The broker is chosen by configuration (as an engine is): Redis with Postgres LISTEN as its
  // fallback, or Postgres LISTEN alone.
  const brokers = {
    redis: config.redisUrl
      ? new RedisBroker(
          {
            url: config.redisUrl,
            heartbeatTimeoutMs: config.broker.heartbeatTimeoutMs,
            connectTimeoutMs: config.broker.redisCommandTimeoutMs * 2,
            signature: config.broker.busSignature,
          },
          logger,
        )
      : undefined,
    postgres: () => new PgBroker({ connectionString: config.databaseUrl, channels: config.notifyChannels }, logger),
  };
  const canary = createCanary(config, db, () => sequencer.ready && supervisor.delivering(), metricsRegistry, logger);
  const supervisor = new BrokerSupervisor(brokers, canarySink(sequencer, canary), config.broker, metrics, logger);
  const verifier = new TokenVerifier(config.auth);
  const replayer = new Replayer({ databaseUrl: config.databaseUrl, ...config.replay }, logger, history, metrics);
  // Purchase channels are authorized by their buyer: read on the pool for client work.
  const purchaseOwners = new PurchaseOwners(purchaseOwnerReader((work) => replayer.run(GATEWAY_READS, work)), undefined, metrics.purchaseOwnerReads);
  // Private leagues: match and team leagues, privacy and members, kept current from league_access events.
  const leagueAccess = new LeagueAccess(leagueAccessReader((work) => replayer.run(GATEWAY_READS, work)), metrics.leagueAccessReads);
  const clusterUserCount = createClusterUserCount(config, metrics.userCapFallbacks, logger);
  const limits = new ConnectionLimits(
    {
      maxPerAddress: config.edge.maxConnectionsPerIp,
      perAddressPerSecond: config.edge.connectionsPerIpPerSecond,
      maxPerUser: config.edge.maxConnectionsPerUser,
    },
    clusterUserCount,
  );
  const sessions = new Sessions(
    registry,
    positions,
    replayer,
    verifier,
    { maxChannels: config.ws.maxChannels, maxReplayEvents: config.history.maxReplayEvents, historyRetentionMs: config.history.retentionMs },
    metrics,
    logger,
    purchaseOwners,
    leagueAccess,
  );
  let draining = false;
  const origins = new OriginPolicy(config.edge.allowedOrigins);
  const admission: AdmissionRules = {
    isDraining: () => draining,
    connectionCount: () => registry.size,
    admitting: new Admitting(),
    maxConnections: config.ws.maxConnections,
    trustedProxyHops: config.edge.trustedProxyHops,
    origins,
    limits,
    verifier,
  };
  if (!config.edge.allowedOrigins) logger.warn('ALLOWED_ORIGINS is not set: browsers on any origin may connect');
  const wsServer = new WsServer(config.ws, admission, sessions, metrics, logger);

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', parseQuery);
  // The gateway reads no request body: a connection that sent one is closed after the answer.
  app.use(closeUnreadBodies);
  app.use([SSE_PATH, '/api'], origins.middleware());
  if (!config.sse.positionKey) {
    logger.warn('SSE_POSITION_KEY is not set: SSE position tokens are signed with a random key and do not survive a move to another gateway or a restart');
  }
  const tokens = new PositionTokens(config.sse.positionKey ?? randomBytes(32), { maxLength: config.sse.maxTokenLength, maxItems: config.ws.maxChannels });
  const positionSources = { heads: positions, tokens };
  app.get(SSE_PATH, sseHandler(config.ws, admission, sessions, positionSources, metrics, logger));
  // The one /api route the gateway serves (the API service has the rest): a user's notifications as named SSE events.
  app.get(
    NOTIFICATION_STREAM_PATH,
    notificationStreamHandler(config.ws, admission, sessions, positionSources, (caller, work) => replayer.run(caller, work), metrics, logger),
  );
  app.use(restRoutes((caller, work) => replayer.run(caller, work), verifier, config.edge.trustedProxyHops));
  app.use(express.static(join(__dirname, '..', 'public'), { setHeaders: setPageHeaders }));
  // Anything else (a GET of /ws without its Upgrade, as from a proxy that drops it, included) is
  // a coded JSON answer, as the API's, not express's HTML page.
  app.use(notFound);
  app.use(errorResponder(logger));

  const server = createHttpServer(app);
  server.on('clientError', onClientError);
  capConnections(server, config.ws.maxSockets, metrics.socketsDropped, logger);
  // While connections arrive, the write batch flushes in short turns, so the loop keeps accepting.
  server.on('connection', noteConnection);
  wsServer.attach(server);
  supervisor.start();
  const positionCheck =
    config.broker.positionCheckIntervalMs > 0
      ? new PositionCheck(
          sequencer,
          { intervalMs: config.broker.positionCheckIntervalMs, marginMs: config.broker.catchUpMarginMs },
          () => supervisor.delivering(),
          metrics.positionCheckRecoveries,
          logger,
        )
      : undefined;
  positionCheck?.start();
  canary?.start();
  clusterUserCount?.start();
  const presence = createPresence(config, () => registry.clients(), logger);
  presence?.start();
  const stopKeepAlive = startKeepAlive(registry, config.ws.pingIntervalMs, config.ws.pingTimeoutMs, logger);
  const stopRetention = startRetention(
    db,
    {
      intervalMs: config.history.pruneIntervalMs,
      retentionMs: config.history.retentionMs,
      keepPerStream: config.history.maxReplayEvents,
      prunedAt: metrics.outboxPrunedAt,
    },
    logger,
  );
  const ready = readinessProbe(
    () => ({
      draining,
      sequencerReady: sequencer.ready,
      delivering: supervisor.delivering(),
      mode: supervisor.mode,
      connections: registry.size,
    }),
    config.ws.readyMaxConnections,
  );
  await listen(server, { port: config.port, host: config.host, portVariable: 'PORT', hostVariable: 'HOST' }, config.listenBacklog);
  // Only now: a ready answer on the ops port means the client port is listening.
  const ops = await listenOps(opsRoutes(metricsRegistry, () => ({ ok: true }), ready), { port: config.opsPort, host: config.host, portVariable: 'OPS_PORT', hostVariable: 'HOST' }, logger);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ port, ops_port: ops.port, mode: supervisor.mode }, 'gateway listening');

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    stopKeepAlive();
    stopRetention();
    positionCheck?.close();
    canary?.close();
    await presence?.close();
    for (const client of registry.clients()) client.close('SERVER_DRAINING');
    await supervisor.close();
    sequencer.close();
    await wsServer.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.all([db.end(), replayer.close(), ops.close(), clusterUserCount?.close()]);
  };

  const drain = async () => {
    if (draining) return;
    draining = true;
    logger.info({ delay_ms: config.drain.delayMs, connections: registry.size }, 'draining: readiness failed, waiting for the load balancer');
    await sleep(config.drain.delayMs);
    // Close in batches so reconnects spread over other pods instead of arriving at once.
    const clients = [...registry.clients()];
    for (let i = 0; i < clients.length; i += config.drain.batchSize) {
      for (const client of clients.slice(i, i + config.drain.batchSize)) client.close('SERVER_DRAINING');
      if (i + config.drain.batchSize < clients.length) await sleep(config.drain.batchIntervalMs);
    }
    logger.info({ closed: clients.length }, 'drained');
    await close();
  };

  return { server, port, ops, opsPort: ops.port, supervisor, registry, drain, close };
}
