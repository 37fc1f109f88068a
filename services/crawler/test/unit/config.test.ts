import { EnvReader } from '@matchcast/runtime';
import { loadConfig } from '../../src';

const load = (env: Record<string, string>) => loadConfig(new EnvReader({ DATABASE_URL: 'postgres://u:p@127.0.0.1/db', ...env }));

describe('loadConfig', () => {
  it('has the documented defaults and is frozen', () => {
    const config = load({});
    expect(config).toEqual({
      databaseUrl: 'postgres://u:p@127.0.0.1/db',
      source: 'simulator',
      seed: 42,
      eventsPerSecond: 5,
      leagues: 2,
      teamsPerLeague: 6,
      concurrentMatches: 4,
      matchMinuteMs: 1000,
      maxEvents: 0,
      replayFile: undefined,
      replaySpeed: 1,
      recordFile: undefined,
      idPrefix: '',
      dbPoolSize: 4,
      port: 8082,
      logLevel: 'info',
      shutdownTimeoutMs: 10_000,
      leaderElection: true,
      leaderPollMs: 1000,
      http: undefined,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads the HTTP source settings only for CRAWLER_SOURCE=http, with polite defaults', () => {
    expect(load({ CRAWLER_SOURCE: 'http' }).http).toEqual({
      provider: 'football-data',
      baseUrl: 'https://api.football-data.org',
      competitions: ['PL'],
      token: undefined,
      authHeader: undefined,
      liveIntervalMs: 15_000,
      idleIntervalMs: 300_000,
      requestsPerMinute: 10,
      timeoutMs: 10_000,
      maxBodyBytes: 5 * 1024 * 1024,
      backoffBaseMs: 2000,
      backoffMaxMs: 300_000,
      matchDetails: false,
    });
    const http = load({
      CRAWLER_SOURCE: 'http',
      CRAWLER_HTTP_PROVIDER: 'generic',
      CRAWLER_HTTP_BASE_URL: 'http://127.0.0.1:9000/api',
      CRAWLER_HTTP_COMPETITIONS: 'PL, BL1',
      CRAWLER_HTTP_TOKEN: 'Bearer s3cret',
      CRAWLER_HTTP_AUTH_HEADER: 'X-Api-Key',
      CRAWLER_HTTP_MATCH_DETAILS: 'true',
    }).http;
    expect(http).toMatchObject({ provider: 'generic', competitions: ['PL', 'BL1'], token: 'Bearer s3cret', authHeader: 'X-Api-Key', matchDetails: true });
  });

  it('rejects bad HTTP source settings naming the variable', () => {
    const http = (env: Record<string, string>) => () => load({ CRAWLER_SOURCE: 'http', ...env });
    expect(http({ CRAWLER_HTTP_PROVIDER: 'generic' })).toThrow(/CRAWLER_HTTP_BASE_URL is required for CRAWLER_HTTP_PROVIDER=generic/);
    expect(http({ CRAWLER_HTTP_PROVIDER: 'espn' })).toThrow(/CRAWLER_HTTP_PROVIDER must be one of football-data, generic/);
    expect(http({ CRAWLER_HTTP_BASE_URL: 'ftp://x' })).toThrow(/CRAWLER_HTTP_BASE_URL must use http: or https:/);
    expect(http({ CRAWLER_HTTP_COMPETITIONS: 'PL,../x' })).toThrow(/CRAWLER_HTTP_COMPETITIONS/);
    expect(http({ CRAWLER_HTTP_AUTH_HEADER: 'X Auth' })).toThrow(/CRAWLER_HTTP_AUTH_HEADER/);
    expect(http({ CRAWLER_HTTP_BACKOFF_BASE_MS: '5000', CRAWLER_HTTP_BACKOFF_MAX_MS: '1000' })).toThrow(/CRAWLER_HTTP_BACKOFF_MAX_MS/);
  });

  // Before: taken; the recording, appended to as the replay streamed the file, was read back and
  // replayed for ever (16,800 lines grew past 60,000 in 40 s, the process never finished).
  it('refuses to record into the file it replays, also through another spelling of its path', () => {
    const replay = (record: string) => () => load({ CRAWLER_SOURCE: 'replay', CRAWLER_REPLAY_FILE: '/tmp/feeds/../feeds/day.jsonl', CRAWLER_RECORD_FILE: record });
    expect(replay('/tmp/feeds/day.jsonl')).toThrow('invalid configuration: CRAWLER_RECORD_FILE must not be the file replayed (CRAWLER_REPLAY_FILE=/tmp/feeds/../feeds/day.jsonl)');
    expect(replay('/tmp/feeds/./day.jsonl')).toThrow(/CRAWLER_RECORD_FILE must not be the file replayed/);
    expect(replay('/tmp/feeds/day-recorded.jsonl')().recordFile).toBe('/tmp/feeds/day-recorded.jsonl');
  });

  // Before: taken. Connection, Content-Length, Expect…: fetch() refused every request
  // (PROVIDER_UNREACHABLE for ever); Host sent the token as the host name; If-None-Match lost
  // the token to the validator on every conditional request.
  it.each(['Connection', 'content-length', 'Transfer-Encoding', 'Expect', 'Host', 'If-None-Match', 'Accept', 'User-Agent'])(
    'refuses CRAWLER_HTTP_AUTH_HEADER=%s, a header fetch or the crawler sets itself',
    (header) => {
      expect(() => load({ CRAWLER_SOURCE: 'http', CRAWLER_HTTP_AUTH_HEADER: header })).toThrow(
        `invalid configuration: CRAWLER_HTTP_AUTH_HEADER cannot carry the credential: ${header} is a header fetch or the crawler sets itself`,
      );
    },
  );

  // Before: taken. With a user and password fetch() refused every request and its error, logged at
  // every poll, quoted the password; with a query the paths were appended inside it (every request
  // to the base URL's own path, '?key=abc/v4/competitions/PL/matches').
  it('refuses a CRAWLER_HTTP_BASE_URL with credentials (not shown), a query or a fragment', () => {
    const base = (url: string) => () => load({ CRAWLER_SOURCE: 'http', CRAWLER_HTTP_BASE_URL: url });
    expect(base('https://bob:hunter2@api.example')).toThrow('invalid configuration: CRAWLER_HTTP_BASE_URL must not carry a user or password (put the credential in CRAWLER_HTTP_TOKEN)');
    expect(base('https://bob@api.example')).toThrow(/must not carry a user or password/);
    expect(base('https://api.example/v1?key=abc')).toThrow(/CRAWLER_HTTP_BASE_URL must have no query or fragment/);
    expect(base('https://api.example/v1#x')).toThrow(/CRAWLER_HTTP_BASE_URL must have no query or fragment/);
    expect(base('https://api.example/v1?')).toThrow(/CRAWLER_HTTP_BASE_URL must have no query or fragment/);
    expect(load({ CRAWLER_SOURCE: 'http', CRAWLER_HTTP_BASE_URL: 'https://api.example/bridge/' }).http?.baseUrl).toBe('https://api.example/bridge/');
  });

  // Before: taken; fetch() then refused every request (PROVIDER_UNREACHABLE for ever), and for a
  // line break its error, logged at every poll, quoted the token.
  it.each(['top\nsecret', 'top\u200bsecret', 'tøp-secret', 'top\u0000secret'])('refuses a CRAWLER_HTTP_TOKEN fetch cannot send (%j) without showing it', (token) => {
    expect(() => load({ CRAWLER_SOURCE: 'http', CRAWLER_HTTP_TOKEN: token })).toThrow(
      'invalid configuration: CRAWLER_HTTP_TOKEN must be printable ASCII, as a header value (its value is not shown)',
    );
    expect(load({ CRAWLER_SOURCE: 'http', CRAWLER_HTTP_TOKEN: 'Bearer abc.DEF-123_~+/=' }).http?.token).toBe('Bearer abc.DEF-123_~+/=');
  });

  it('reads every variable', () => {
    const config = load({
      CRAWLER_SOURCE: 'replay',
      CRAWLER_REPLAY_FILE: '/tmp/feed.jsonl',
      CRAWLER_REPLAY_SPEED: '0',
      CRAWLER_EVENTS_PER_SECOND: '0.5',
      CRAWLER_MAX_EVENTS: '100',
      CRAWLER_ID_PREFIX: 'run7_',
      CRAWLER_MATCH_MINUTE_MS: '50',
      CRAWLER_RECORD_FILE: '/tmp/out.jsonl',
      CRAWLER_PORT: '0',
    });
    expect(config).toMatchObject({
      source: 'replay',
      replayFile: '/tmp/feed.jsonl',
      replaySpeed: 0,
      eventsPerSecond: 0.5,
      maxEvents: 100,
      idPrefix: 'run7_',
      matchMinuteMs: 50,
      recordFile: '/tmp/out.jsonl',
      port: 0,
    });
  });

  it('fails fast naming the variable', () => {
    expect(() => loadConfig(new EnvReader({}))).toThrow('invalid configuration: DATABASE_URL is required');
    expect(() => load({ CRAWLER_SOURCE: 'kafka' })).toThrow(/CRAWLER_SOURCE must be one of simulator, replay, http/);
    expect(() => load({ CRAWLER_SOURCE: 'replay' })).toThrow(/CRAWLER_REPLAY_FILE is required when CRAWLER_SOURCE=replay/);
    expect(() => load({ CRAWLER_EVENTS_PER_SECOND: '0.01' })).toThrow(/CRAWLER_EVENTS_PER_SECOND must be between 0.1 and 5000/);
    expect(() => load({ CRAWLER_EVENTS_PER_SECOND: '6000' })).toThrow(/CRAWLER_EVENTS_PER_SECOND/);
    expect(() => load({ CRAWLER_TEAMS_PER_LEAGUE: '1' })).toThrow(/CRAWLER_TEAMS_PER_LEAGUE/);
    expect(() => load({ CRAWLER_MAX_EVENTS: 'lots' })).toThrow(/CRAWLER_MAX_EVENTS must be an integer/);
    expect(() => load({ CRAWLER_ID_PREFIX: 'a b' })).toThrow(/CRAWLER_ID_PREFIX must match/);
    expect(() => load({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL must be one of/);
  });

  it('records every variable it reads for the deploy checks', () => {
    const env = new EnvReader({ DATABASE_URL: 'postgres://127.0.0.1/db' });
    loadConfig(env);
    expect([...env.read.keys()].sort()).toEqual(
      [
        'CRAWLER_CONCURRENT_MATCHES',
        'CRAWLER_DB_POOL_SIZE',
        'CRAWLER_EVENTS_PER_SECOND',
        'CRAWLER_HTTP_AUTH_HEADER',
        'CRAWLER_HTTP_BACKOFF_BASE_MS',
        'CRAWLER_HTTP_BACKOFF_MAX_MS',
        'CRAWLER_HTTP_BASE_URL',
        'CRAWLER_HTTP_COMPETITIONS',
        'CRAWLER_HTTP_IDLE_INTERVAL_MS',
        'CRAWLER_HTTP_LIVE_INTERVAL_MS',
        'CRAWLER_HTTP_MATCH_DETAILS',
        'CRAWLER_HTTP_MAX_BODY_BYTES',
        'CRAWLER_HTTP_PROVIDER',
        'CRAWLER_HTTP_REQUESTS_PER_MINUTE',
        'CRAWLER_HTTP_TIMEOUT_MS',
        'CRAWLER_HTTP_TOKEN',
        'CRAWLER_ID_PREFIX',
        'CRAWLER_LEADER_ELECTION',
        'CRAWLER_LEADER_POLL_MS',
        'CRAWLER_LEAGUES',
        'CRAWLER_MATCH_MINUTE_MS',
        'CRAWLER_MAX_EVENTS',
        'CRAWLER_PORT',
        'CRAWLER_RECORD_FILE',
        'CRAWLER_REPLAY_FILE',
        'CRAWLER_REPLAY_SPEED',
        'CRAWLER_SEED',
        'CRAWLER_SOURCE',
        'CRAWLER_TEAMS_PER_LEAGUE',
        'DATABASE_URL',
        'LOG_LEVEL',
        'SHUTDOWN_TIMEOUT_MS',
      ].sort(),
    );
  });
});
