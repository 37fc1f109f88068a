/**
 * Composition root: config → logger → database pool → source → crawler → ops server → signals.
 * `node services/crawler/dist/main.js` runs it; importing this module only exports start().
 */
import pg from 'pg';
import { createRegistry, fatal, listenOps, opsRoutes, redactUrl, runService, type Logger } from '@matchcast/runtime';
import { loadConfig, type Config } from './config';
import { Crawler, type CrawlerStats } from './crawler';
import { createCrawlerMetrics } from './metrics';
import { Recorder } from './recorder';
import { ReplaySource } from './sources/replay';
import { Simulator, SimulatorSource } from './sources/simulator';
import type { FeedSource } from './sources/source';
import { Writer } from './writer';
import { CrawlerLeadership, leaderLockKey } from './leadership';
import { ADAPTERS } from './sources/http/adapters';
import { HttpSource } from './sources/http/http-source';
import { LeaderGatedSource } from './sources/leader-gated';
import type { CrawlerMetrics } from './metrics';

export * from './index';

export interface CrawlerApp {
  readonly crawler: Crawler;
  /** Port of the /healthz /readyz /metrics server. */
  readonly port: number;
  /** Resolves with the totals when the crawler stops (max events, end of a replay, close()). */
  readonly done: Promise<CrawlerStats>;
  /** Stops the crawler, then releases the source, recorder, ops server and pool; safe twice. */
  close(): Promise<void>;
}

export async function start(config: Config, logger: Logger, startedAt = Date.now()): Promise<CrawlerApp> {
  const registry = createRegistry('crawler');
  const metrics = createCrawlerMetrics(registry);
  const makeSource = sourceFactory(config, logger, metrics, startedAt);
  // A replay feed is checked whole before anything is written, also when this process stands by.
  const first = await makeSource();
  let leadership: CrawlerLeadership | undefined;
  let source: FeedSource = first;
  if (config.leaderElection) {
    leadership = new CrawlerLeadership({
      connectionString: config.databaseUrl,
      lockKey: leaderLockKey(sourceIdentity(config)),
      logger,
      pollMs: config.leaderPollMs,
    });
    let unused: FeedSource | undefined = first;
    source = new LeaderGatedSource(() => {
      const reuse = unused;
      unused = undefined;
      return reuse ?? makeSource();
    }, leadership, first.name);
  }
  const recorder = config.recordFile ? Recorder.open(config.recordFile, logger) : undefined;

  // Timeouts everywhere so that a frozen or unreachable server turns into a retried error
  // instead of a write that hangs forever.
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max: config.dbPoolSize,
    application_name: 'matchcast-crawler',
    connectionTimeoutMillis: 5_000,
    query_timeout: 10_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  // An idle pooled connection that dies emits 'error' on the pool; unhandled, it would crash us.
  pool.on('error', (error) => logger.warn({ err: error }, 'idle database connection failed'));

  const crawler = new Crawler({
    source,
    writer: new Writer(pool, {
      held(change) {
        metrics.http.held.inc({ field: change.field });
        logger.warn({ ...change, code: 'PROVIDER_REGRESSION' }, 'provider regression held until the next poll confirms it');
      },
    }),
    logger,
    metrics,
    recorder,
    maxEvents: config.maxEvents,
    idPrefix: config.idPrefix,
    maxInFlight: config.dbPoolSize,
  });
  const ops = await listenOps(
    opsRoutes(
      registry,
      () => ({ ok: crawler.healthy }),
      () => ({ ok: crawler.ready, detail: { ...crawler.snapshot(), leader: leadership?.isLeader ?? true } }),
    ),
    { port: config.port, portVariable: 'CRAWLER_PORT' },
    logger,
  );
  logger.info(
    {
      source: source.name,
      database_url: redactUrl(config.databaseUrl),
      port: ops.port,
      ...(config.source === 'replay'
        ? { replay_file: config.replayFile, replay_speed: config.replaySpeed }
        : config.http
          ? {
              provider: config.http.provider,
              base_url: redactUrl(config.http.baseUrl),
              competitions: config.http.competitions,
              token_set: config.http.token !== undefined,
            }
          : { seed: config.seed, events_per_second: config.eventsPerSecond, match_minute_ms: config.matchMinuteMs }),
      leader_election: config.leaderElection,
      max_events: config.maxEvents,
      id_prefix: config.idPrefix,
      record_file: config.recordFile,
    },
    'crawler started',
  );
  leadership?.start();
  const done = crawler.run();
  let closing: Promise<void> | undefined;
  return {
    crawler,
    port: ops.port,
    done,
    close() {
      closing ??= (async () => {
        await crawler.close();
        await source.close();
        await leadership?.close();
        await recorder?.close();
        await ops.close();
        await pool.end();
      })();
      return closing;
    },
  };
}

/** Makes the configured source; called once per term of leadership. */
function sourceFactory(config: Config, logger: Logger, metrics: CrawlerMetrics, startedAt: number): () => Promise<FeedSource> {
  return async () => {
    if (config.source === 'replay') return ReplaySource.open(config.replayFile as string, { speed: config.replaySpeed });
    if (config.http) {
      const http = config.http;
      return new HttpSource({ ...http, adapter: ADAPTERS[http.provider], logger, metrics: metrics.http });
    }
    return new SimulatorSource(
      new Simulator({
        seed: config.seed,
        eventsPerSecond: config.eventsPerSecond,
        leagues: config.leagues,
        teamsPerLeague: config.teamsPerLeague,
        concurrentMatches: config.concurrentMatches,
        matchMinuteMs: config.matchMinuteMs,
        startedAt,
      }),
    );
  };
}

/** What makes two crawlers "the same source": they share one leader. */
function sourceIdentity(config: Config): string {
  const http = config.http ? [config.http.provider, config.http.baseUrl, [...config.http.competitions].sort().join(',')] : [];
  return [config.source, config.idPrefix, ...http].join('|');
}

async function main(): Promise<void> {
  let signalled = false;
  const { logger, started: app } = await runService('crawler', () => loadConfig(), (config, log) => start(config, log), async (running) => {
    signalled = true;
    await running.close();
  });
  app.done.then(
    async (stats) => {
      logger.info({ ...stats }, 'crawler finished');
      if (signalled) return; // the shutdown handler exits once close() completes
      await app.close();
      process.exit(0);
    },
    async (error: unknown) => {
      await app.close().catch(() => undefined);
      fatal(logger, error);
    },
  );
}

if (require.main === module) void main();
