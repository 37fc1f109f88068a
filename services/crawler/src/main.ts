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
  const source: FeedSource =
    config.source === 'replay'
      ? await ReplaySource.open(config.replayFile as string, { speed: config.replaySpeed })
      : new SimulatorSource(
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
    writer: new Writer(pool),
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
      () => ({ ok: crawler.ready, detail: { ...crawler.snapshot() } }),
    ),
    config.port,
  );
  logger.info(
    {
      source: source.name,
      database_url: redactUrl(config.databaseUrl),
      port: ops.port,
      ...(config.source === 'replay'
        ? { replay_file: config.replayFile, replay_speed: config.replaySpeed }
        : { seed: config.seed, events_per_second: config.eventsPerSecond, match_minute_ms: config.matchMinuteMs }),
      max_events: config.maxEvents,
      id_prefix: config.idPrefix,
      record_file: config.recordFile,
    },
    'crawler started',
  );
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
        await recorder?.close();
        await ops.close();
        await pool.end();
      })();
      return closing;
    },
  };
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
