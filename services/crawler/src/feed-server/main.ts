/**
 * `node services/crawler/dist/feed-server/main.js`: the demo's local provider (football-data v4
 * format, matches progressing in real time). FEED_SERVER_PORT (default 8093), FEED_MATCH_MINUTE_MS
 * (default 1000: a match takes about 100 s).
 */
import { EnvReader, LOG_LEVELS, runService } from '@matchcast/runtime';
import { DEFAULT_DEMO_FEED, DemoFeed } from './demo-feed';
import { startFeedServer } from './server';

async function main(): Promise<void> {
  await runService(
    'feed-server',
    () => {
      const env = new EnvReader();
      return {
        port: env.int('FEED_SERVER_PORT', 8093, { min: 0, max: 65_535 }),
        matchMinuteMs: env.durationMs('FEED_MATCH_MINUTE_MS', DEFAULT_DEMO_FEED.matchMinuteMs, { min: 10, max: 60_000 }),
        logLevel: env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
        shutdownTimeoutMs: 5000,
      };
    },
    async (config, logger) => {
      const feed = new DemoFeed({ ...DEFAULT_DEMO_FEED, matchMinuteMs: config.matchMinuteMs, startedAt: Date.now() });
      const server = await startFeedServer(feed, config.port);
      logger.info({ port: server.port, match_minute_ms: config.matchMinuteMs }, 'demo feed server listening (football-data v4 format)');
      return server;
    },
    (server) => server.close(),
  );
}

if (require.main === module) void main();
