import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { createRegistry, opsRoutes, sleep, type Logger } from '@matchcast/runtime';
import express from 'express';
import pg from 'pg';
import { BrokerSupervisor } from './brokers/supervisor';
import type { Config } from './config';
import { Fanout } from './fanout';
import { createGatewayMetrics } from './metrics';
import { restRoutes } from './rest';
import { startRetention } from './retention';
import { Sequencer } from './sequencer';
import { Sessions } from './session';
import { startHeartbeat } from './transport/heartbeat';
import { SubscriptionRegistry } from './transport/registry';
import { SSE_PATH, sseHandler } from './transport/sse';
import { WsServer } from './transport/ws-server';

export interface Gateway {
  readonly server: Server;
  readonly port: number;
  readonly supervisor: BrokerSupervisor;
  readonly registry: SubscriptionRegistry;
  /** Fail readiness, wait, close clients in batches with SERVER_DRAINING, then stop everything. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/** Wires the gateway: database pool, sequencer, brokers, transports, HTTP routes. */
export async function startGateway(config: Config, logger: Logger): Promise<Gateway> {
  const metricsRegistry = createRegistry('gateway');
  const metrics = createGatewayMetrics(metricsRegistry);
  const db = new pg.Pool({ connectionString: config.databaseUrl, max: 8, application_name: 'matchcast-gateway' });
  db.on('error', (error) => logger.warn({ err: error }, 'idle database connection failed'));

  const registry = new SubscriptionRegistry();
  const fanout = new Fanout(registry, metrics);
  const sequencer = new Sequencer(db, (event) => fanout.deliver(event), metrics, logger);
  await sequencer.init();
  const supervisor = new BrokerSupervisor(config, sequencer, metrics, logger);
  const sessions = new Sessions(config, registry, sequencer, db, metrics, logger);
  const wsServer = new WsServer(config, registry, sessions, metrics, logger);
  let draining = false;

  const app = express();
  app.disable('x-powered-by');
  app.use(
    opsRoutes(
      metricsRegistry,
      () => ({ ok: true }),
      () => ({
        ok: !draining && sequencer.ready && supervisor.delivering(),
        detail: { mode: supervisor.mode, draining, connections: registry.size },
      }),
    ),
  );
  app.get(SSE_PATH, sseHandler(config, registry, sessions, metrics, () => draining));
  app.use(restRoutes(db));
  app.use(express.static(join(__dirname, '..', 'public')));

  const server = createServer(app);
  wsServer.attach(server);
  supervisor.start();
  const stopHeartbeat = startHeartbeat(registry, config.ws.pingIntervalMs, config.ws.pingTimeoutMs);
  const stopRetention = startRetention(
    db,
    {
      intervalMs: config.history.pruneIntervalMs,
      retentionMs: config.history.retentionMs,
      keepPerStream: config.history.maxReplayEvents,
    },
    logger,
  );
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ port, mode: supervisor.mode }, 'gateway listening');

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    stopHeartbeat();
    stopRetention();
    for (const client of registry.clients()) client.close('SERVER_DRAINING');
    await supervisor.close();
    await wsServer.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await db.end();
  };

  const drain = async () => {
    if (draining) return;
    draining = true;
    wsServer.stopAccepting();
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

  return { server, port, supervisor, registry, drain, close };
}
