import { ConfigError, EnvReader, POSTGRES_PROTOCOLS, LOG_LEVELS } from '@matchcast/runtime';

export const SOURCES = ['simulator', 'replay'] as const;
export type SourceKind = (typeof SOURCES)[number];


/** Prefixed ids must still fit the protocol's 64-character id pattern. */
const ID_PREFIX_PATTERN = /^[A-Za-z0-9_.-]{0,16}$/;

export interface Config {
  readonly databaseUrl: string;
  readonly source: SourceKind;
  readonly seed: number;
  readonly eventsPerSecond: number;
  readonly leagues: number;
  readonly teamsPerLeague: number;
  readonly concurrentMatches: number;
  readonly matchMinuteMs: number;
  /** 0 = run until stopped; > 0 = stop after this many operations (transactions). */
  readonly maxEvents: number;
  readonly replayFile: string | undefined;
  /** 1 = the recorded timing, 2 = twice as fast, 0 = as fast as the database allows. */
  readonly replaySpeed: number;
  readonly recordFile: string | undefined;
  readonly idPrefix: string;
  readonly dbPoolSize: number;
  readonly port: number;
  readonly logLevel: string;
  readonly shutdownTimeoutMs: number;
}

export function loadConfig(env = new EnvReader()): Config {
  const source = env.oneOf('CRAWLER_SOURCE', SOURCES, 'simulator');
  const replayFile = env.optionalString('CRAWLER_REPLAY_FILE');
  if (source === 'replay' && replayFile === undefined) {
    throw new ConfigError('CRAWLER_REPLAY_FILE', 'is required when CRAWLER_SOURCE=replay');
  }
  const idPrefix = env.string('CRAWLER_ID_PREFIX', '');
  if (!ID_PREFIX_PATTERN.test(idPrefix)) {
    throw new ConfigError('CRAWLER_ID_PREFIX', `must match ${ID_PREFIX_PATTERN.source}, got "${idPrefix}"`);
  }
  return Object.freeze({
    databaseUrl: env.requiredUrl('DATABASE_URL', POSTGRES_PROTOCOLS),
    source,
    seed: env.int('CRAWLER_SEED', 42, { min: 0, max: 0xffff_ffff }),
    eventsPerSecond: env.number('CRAWLER_EVENTS_PER_SECOND', 5, { min: 0.1, max: 5000 }),
    leagues: env.int('CRAWLER_LEAGUES', 2, { min: 1, max: 100 }),
    teamsPerLeague: env.int('CRAWLER_TEAMS_PER_LEAGUE', 6, { min: 2, max: 100 }),
    concurrentMatches: env.int('CRAWLER_CONCURRENT_MATCHES', 4, { min: 1, max: 10_000 }),
    matchMinuteMs: env.durationMs('CRAWLER_MATCH_MINUTE_MS', 1000, { min: 1, max: 3_600_000 }),
    maxEvents: env.int('CRAWLER_MAX_EVENTS', 0, { min: 0 }),
    replayFile,
    replaySpeed: env.number('CRAWLER_REPLAY_SPEED', 1, { min: 0, max: 10_000 }),
    recordFile: env.optionalString('CRAWLER_RECORD_FILE'),
    idPrefix,
    dbPoolSize: env.int('CRAWLER_DB_POOL_SIZE', 4, { min: 1, max: 100 }),
    port: env.int('CRAWLER_PORT', 8082, { min: 0, max: 65_535 }),
    logLevel: env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    shutdownTimeoutMs: env.durationMs('SHUTDOWN_TIMEOUT_MS', 10_000, { min: 100, max: 600_000 }),
  });
}
