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
    });
    expect(Object.isFrozen(config)).toBe(true);
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
    expect(() => load({ CRAWLER_SOURCE: 'http' })).toThrow(/CRAWLER_SOURCE must be one of simulator, replay/);
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
        'CRAWLER_ID_PREFIX',
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
