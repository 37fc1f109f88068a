import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, EnvReader, POSTGRES_PROTOCOLS, LOG_LEVELS } from '@matchcast/runtime';
import { PROVIDER_NAMES, type ProviderName } from './sources/http/adapters';

export const SOURCES = ['simulator', 'replay', 'http'] as const;
export type SourceKind = (typeof SOURCES)[number];

/** The HTTP source's settings (CRAWLER_HTTP_*). */
export interface HttpConfig {
  readonly provider: ProviderName;
  readonly baseUrl: string;
  readonly competitions: readonly string[];
  /** From a Secret; never logged. */
  readonly token: string | undefined;
  readonly authHeader: string | undefined;
  readonly liveIntervalMs: number;
  readonly idleIntervalMs: number;
  readonly requestsPerMinute: number;
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly matchDetails: boolean;
}

const DEFAULT_BASE_URLS: Record<ProviderName, string | undefined> = { 'football-data': 'https://api.football-data.org', generic: undefined };
const COMPETITION_PATTERN = /^[A-Za-z0-9_.-]{1,32}$/;
const HEADER_NAME_PATTERN = /^[A-Za-z0-9-]{1,64}$/;
/**
 * Headers the credential may not ride in: fetch() refuses the framing and hop-by-hop ones at
 * every request; Host would send the token as the host name; the source's own (Accept, the
 * conditional-request validators, User-Agent) would replace or be replaced by it.
 */
const RESERVED_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'expect', 'te', 'trailer',
  'proxy-connection', 'accept', 'if-none-match', 'if-modified-since', 'user-agent']);
/** What fetch() sends as a header value: printable ASCII, inner spaces allowed (e.g. "Bearer …"). */
const HEADER_VALUE_PATTERN = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/;


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
  /** One active crawler per source among replicas (Postgres advisory lock). */
  readonly leaderElection: boolean;
  readonly leaderPollMs: number;
  readonly http: HttpConfig | undefined;
}

export function loadConfig(env = new EnvReader()): Config {
  const source = env.oneOf('CRAWLER_SOURCE', SOURCES, 'simulator');
  const replayFile = env.optionalString('CRAWLER_REPLAY_FILE');
  if (source === 'replay' && replayFile === undefined) {
    throw new ConfigError('CRAWLER_REPLAY_FILE', 'is required when CRAWLER_SOURCE=replay');
  }
  const recordFile = env.optionalString('CRAWLER_RECORD_FILE');
  // The recording is appended to as the replay streams the file: it read its own output back
  // and replayed it for ever, the file growing until the disk was full.
  if (source === 'replay' && recordFile !== undefined && samePath(recordFile, replayFile as string)) {
    throw new ConfigError('CRAWLER_RECORD_FILE', `must not be the file replayed (CRAWLER_REPLAY_FILE=${replayFile})`);
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
    recordFile,
    idPrefix,
    dbPoolSize: env.int('CRAWLER_DB_POOL_SIZE', 4, { min: 1, max: 100 }),
    port: env.int('CRAWLER_PORT', 8082, { min: 0, max: 65_535 }),
    logLevel: env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    shutdownTimeoutMs: env.durationMs('SHUTDOWN_TIMEOUT_MS', 10_000, { min: 100, max: 600_000 }),
    leaderElection: env.bool('CRAWLER_LEADER_ELECTION', true),
    leaderPollMs: env.durationMs('CRAWLER_LEADER_POLL_MS', 1000, { min: 50, max: 60_000 }),
    http: loadHttpConfig(env, source === 'http'),
  });
}

/**
 * The adapters' paths are appended to the base URL, so it is a scheme, a host and a path only:
 * after a query (?key=…) or fragment they would land inside it, and every request went to the
 * wrong resource; a user and password fetch() refuses at every request, and its error, logged
 * at every poll, quoted them (the credential goes in CRAWLER_HTTP_TOKEN).
 */
function checkBaseUrl(baseUrl: string | undefined): void {
  if (baseUrl === undefined) return;
  const url = new URL(baseUrl);
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError('CRAWLER_HTTP_BASE_URL', 'must not carry a user or password (put the credential in CRAWLER_HTTP_TOKEN)');
  }
  if (url.search !== '' || url.hash !== '' || baseUrl.includes('?') || baseUrl.includes('#')) {
    throw new ConfigError('CRAWLER_HTTP_BASE_URL', `must have no query or fragment (the provider's paths are appended to it), got ${baseUrl}`);
  }
}

/** Two paths naming one file (through a symbolic link too, once it exists). */
function samePath(a: string, b: string): boolean {
  const real = (path: string) => (existsSync(path) ? realpathSync(path) : resolve(path));
  return real(a) === real(b);
}

/**
 * The CRAWLER_HTTP_* settings are read (and checked) whatever the source, so that manifests
 * may carry them all; they are used, and the base URL required, only when the source is http.
 */
function loadHttpConfig(env: EnvReader, used: boolean): HttpConfig | undefined {
  const provider = env.oneOf('CRAWLER_HTTP_PROVIDER', PROVIDER_NAMES, 'football-data');
  const baseUrl = env.url('CRAWLER_HTTP_BASE_URL', ['http:', 'https:']) ?? DEFAULT_BASE_URLS[provider];
  checkBaseUrl(baseUrl);
  if (used && baseUrl === undefined) throw new ConfigError('CRAWLER_HTTP_BASE_URL', `is required for CRAWLER_HTTP_PROVIDER=${provider}`);
  const competitions = env.list('CRAWLER_HTTP_COMPETITIONS', ['PL']);
  const bad = competitions.find((c) => !COMPETITION_PATTERN.test(c));
  if (competitions.length === 0 || bad !== undefined) {
    throw new ConfigError('CRAWLER_HTTP_COMPETITIONS', `must be a comma-separated list of codes matching ${COMPETITION_PATTERN.source}`);
  }
  const authHeader = env.optionalString('CRAWLER_HTTP_AUTH_HEADER');
  if (authHeader !== undefined && !HEADER_NAME_PATTERN.test(authHeader)) {
    throw new ConfigError('CRAWLER_HTTP_AUTH_HEADER', `must be a header name matching ${HEADER_NAME_PATTERN.source}`);
  }
  if (authHeader !== undefined && RESERVED_HEADERS.has(authHeader.toLowerCase())) {
    throw new ConfigError('CRAWLER_HTTP_AUTH_HEADER', `cannot carry the credential: ${authHeader} is a header fetch or the crawler sets itself`);
  }
  // fetch() refused any other token at every request, and its error, logged each poll, quoted it.
  const token = env.optionalString('CRAWLER_HTTP_TOKEN');
  if (token !== undefined && !HEADER_VALUE_PATTERN.test(token)) {
    throw new ConfigError('CRAWLER_HTTP_TOKEN', 'must be printable ASCII, as a header value (its value is not shown)');
  }
  const backoffBaseMs = env.durationMs('CRAWLER_HTTP_BACKOFF_BASE_MS', 2000, { min: 1, max: 600_000 });
  const http: HttpConfig = Object.freeze({
    provider,
    baseUrl: baseUrl ?? '',
    competitions: Object.freeze(competitions),
    token,
    authHeader,
    liveIntervalMs: env.durationMs('CRAWLER_HTTP_LIVE_INTERVAL_MS', 15_000, { min: 10, max: 3_600_000 }),
    idleIntervalMs: env.durationMs('CRAWLER_HTTP_IDLE_INTERVAL_MS', 300_000, { min: 10, max: 86_400_000 }),
    requestsPerMinute: env.int('CRAWLER_HTTP_REQUESTS_PER_MINUTE', 10, { min: 1, max: 10_000 }),
    timeoutMs: env.durationMs('CRAWLER_HTTP_TIMEOUT_MS', 10_000, { min: 10, max: 120_000 }),
    maxBodyBytes: env.int('CRAWLER_HTTP_MAX_BODY_BYTES', 5 * 1024 * 1024, { min: 1024, max: 256 * 1024 * 1024 }),
    backoffBaseMs,
    backoffMaxMs: env.durationMs('CRAWLER_HTTP_BACKOFF_MAX_MS', 300_000, { min: backoffBaseMs, max: 3_600_000 }),
    matchDetails: env.bool('CRAWLER_HTTP_MATCH_DETAILS', false),
  });
  return used ? http : undefined;
}
