import type { Server } from 'node:http';
import { hasKeys } from '@matchcast/auth';
import { capConnections, clientAddress, createHttpServer, createRegistry, listen, listenOps, onClientError, opsRoutes, type Logger, type OpsServer } from '@matchcast/runtime';
import pg from 'pg';
import { createApp } from './app';
import type { Config } from './config';
import { createApiMetrics } from './metrics';
import { PresenceStore } from './store/presence';
import { retryLostRaces } from './store/retry-lost-races';

/** How often readiness re-checks the database, and how long one check may take. */
const DB_CHECK_INTERVAL_MS = 2000;
const DB_CHECK_TIMEOUT_MS = 1500;
/** A query slower than this is cut off (503 UNAVAILABLE) instead of holding a pool client. */
const STATEMENT_TIMEOUT_MS = 5000;
/** A request that waits this long for a pool client gets 503 UNAVAILABLE. */
const POOL_WAIT_MS = 5000;
/** A presence read from Redis slower than this answers 503 UNAVAILABLE. */
const REDIS_COMMAND_TIMEOUT_MS = 1000;
/**
 * Idle keep-alive connections stay open longer than the proxies' own idle timeouts (ingress-nginx
 * and most load balancers: 60 s), so a proxy never reuses a connection the API just closed (a 502).
 */
const KEEP_ALIVE_MS = 65_000;

export interface RunningApi {
  readonly server: Server;
  readonly port: number;
  readonly ops: OpsServer;
  /** Readiness fails, listeners stop, in-flight requests finish, the pool closes. Safe to call twice. */
  close(): Promise<void>;
}

/** Wires the API: database pool, metrics, the express app, the ops server, the readiness check. */
export async function startApi(config: Config, logger: Logger): Promise<RunningApi> {
  const db = retryLostRaces(new pg.Pool({
    connectionString: config.databaseUrl,
    max: config.pgPoolMax,
    application_name: 'matchcast-api',
    statement_timeout: STATEMENT_TIMEOUT_MS,
    connectionTimeoutMillis: POOL_WAIT_MS,
  }));
  db.on('error', (error) => logger.warn({ err: error }, 'idle database connection failed'));
  const registry = createRegistry('api');
  const metrics = createApiMetrics(registry, db);
  if (!hasKeys(config.auth)) logger.warn('no AUTH_JWT_SECRET, AUTH_JWT_KEYS or AUTH_JWKS_URL: every request will be refused with 401');
  if (!config.allowedOrigins) logger.warn('ALLOWED_ORIGINS is not set: browsers on any origin may call the API');
  if (config.devSignIn.enabled) logger.warn('DEV_SIGN_IN is on: anyone can get a token for any user (development only)');

  let closing = false;
  let dbUp = false;
  // One probe query at a time: while the database hangs, later checks wait on the same query
  // (each at most DB_CHECK_TIMEOUT_MS) instead of piling more onto the pool.
  let probe: Promise<unknown> | undefined;
  const checkDatabase = async () => {
    probe ??= db.query('SELECT 1').finally(() => (probe = undefined));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        probe,
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('database check timed out')), DB_CHECK_TIMEOUT_MS))),
      ]);
      if (!dbUp) logger.info('database reachable');
      dbUp = true;
    } catch (error) {
      if (dbUp) logger.warn({ err: error }, 'database unreachable: not ready');
      dbUp = false;
    } finally {
      clearTimeout(timer);
    }
    metrics.dbUp.set(dbUp ? 1 : 0);
  };
  await checkDatabase();
  const dbTimer = setInterval(() => void checkDatabase(), DB_CHECK_INTERVAL_MS);
  dbTimer.unref();

  const presence = config.redisUrl ? new PresenceStore(config.redisUrl, REDIS_COMMAND_TIMEOUT_MS) : undefined;
  presence?.start();
  const app = createApp({ config, db, metrics, logger, presence });
  const server = createHttpServer(app, { keepAliveTimeout: KEEP_ALIVE_MS });
  server.on('clientError', onClientError);
  capConnections(server, config.maxConnections, metrics.socketsDropped, logger);
  // Request logs at debug carry the client's address as the trusted proxies saw it.
  if (logger.isLevelEnabled('debug')) {
    server.on('request', (req, res) => {
      const started = process.hrtime.bigint();
      res.once('finish', () =>
        logger.debug(
          { method: req.method, path: req.url?.split('?')[0], status: res.statusCode, client: clientAddress(req, config.trustedProxyHops), ms: Number(process.hrtime.bigint() - started) / 1e6 },
          'request',
        ),
      );
    });
  }
  try {
    await listen(server, { port: config.port, host: config.host, portVariable: 'PORT', hostVariable: 'HOST' });
  } catch (error) {
    clearInterval(dbTimer);
    await Promise.all([db.end(), presence?.close()]);
    throw error;
  }
  // Only now: a ready answer on the ops port means the API port is listening.
  const ops = await listenOps(
    opsRoutes(
      registry,
      () => ({ ok: true }),
      () => ({ ok: dbUp && !closing, detail: { database: dbUp ? 'up' : 'down', closing } }),
    ),
    { port: config.opsPort, host: config.host, portVariable: 'OPS_PORT', hostVariable: 'HOST' },
    logger,
  );
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ port, ops_port: ops.port, dev_sign_in: config.devSignIn.enabled, database: dbUp ? 'up' : 'down' }, 'api listening');

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      closing = true;
      clearInterval(dbTimer);
      // Stop accepting; requests in flight finish, and each keep-alive socket is closed as soon
      // as it is idle (not after KEEP_ALIVE_MS).
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      const reaper = setInterval(() => server.closeIdleConnections(), 50);
      server.closeIdleConnections();
      await serverClosed;
      clearInterval(reaper);
      await Promise.all([ops.close(), db.end(), presence?.close()]);
    })();
    return closed;
  };
  return { server, port, ops, close };
}
