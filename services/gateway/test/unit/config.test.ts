import { ConfigError, EnvReader } from '@matchcast/runtime';
import { loadConfig } from '../../src/config';

const load = (env: Record<string, string>) => loadConfig(new EnvReader({ DATABASE_URL: 'postgres://u@h/db', ...env }));

/** The message loadConfig fails with, or undefined when it takes the value. */
function refusal(env: Record<string, string>): string | undefined {
  try {
    load(env);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
}

/** Node's timers take at most 2^31 - 1 ms: a longer delay overflows and fires after 1 ms. */
const OVER_TIMER_MAX = '3000000000';

describe('gateway config', () => {
  it('has the documented defaults', () => {
    expect(load({})).toMatchObject({
      broker: { heartbeatTimeoutMs: 1000, redisProbeIntervalMs: 2000, redisCommandTimeoutMs: 500, catchUpMarginMs: 60_000 },
      history: { retentionMs: 3_600_000, pruneIntervalMs: 60_000 },
      replay: { statementTimeoutMs: 5000 },
      drain: { delayMs: 5000, batchSize: 500, batchIntervalMs: 100 },
      canary: { intervalMs: 5000, timeoutMs: 2000 },
      presenceIntervalMs: 5000,
      shutdownTimeoutMs: 25_000,
      edge: { maxConnectionsPerUser: 100, userCapLeaseMs: 30_000, userCapRedisTimeoutMs: 50 },
    });
  });

  // The cluster-wide per-user count: a lease shorter than a second is renewed in a busy loop, and
  // a Redis wait longer than a second would hold every upgrade of a reconnect storm.
  it('bounds the per-user cap lease and Redis wait', () => {
    expect(refusal({ USER_CAP_LEASE_MS: '999' })).toMatch(/^invalid configuration: USER_CAP_LEASE_MS must be .*between 1000 and 3600000, got 999$/);
    expect(refusal({ USER_CAP_REDIS_TIMEOUT_MS: '4' })).toMatch(/^invalid configuration: USER_CAP_REDIS_TIMEOUT_MS must be .*between 5 and 1000, got 4$/);
    expect(refusal({ USER_CAP_REDIS_TIMEOUT_MS: '1001' })).toMatch(/USER_CAP_REDIS_TIMEOUT_MS must be .*between 5 and 1000/);
    expect(load({ USER_CAP_LEASE_MS: '1000', USER_CAP_REDIS_TIMEOUT_MS: '5' }).edge).toMatchObject({ userCapLeaseMs: 1000, userCapRedisTimeoutMs: 5 });
  });

  // Before: taken, and the ops server's listen() died with EADDRINUSE, naming no variable.
  it('refuses OPS_PORT equal to PORT (0, a free port each, may repeat)', () => {
    expect(refusal({ PORT: '9000', OPS_PORT: '9000' })).toBe('invalid configuration: OPS_PORT must differ from PORT (both 9000)');
    expect(refusal({ OPS_PORT: '8080' })).toMatch(/OPS_PORT must differ from PORT/);
    expect(refusal({ PORT: '0', OPS_PORT: '0' })).toBeUndefined();
  });

  // Before: these were read as plain integers up to 2^53, so a value past setTimeout's maximum
  // was taken and then fired at once: a prune or a Redis probe every millisecond, an immediate
  // shutdown deadline (exit 1 with no drain), a Redis connect timeout of 1 ms.
  it.each([
    'HEARTBEAT_TIMEOUT_MS',
    'REDIS_PROBE_INTERVAL_MS',
    'REDIS_COMMAND_TIMEOUT_MS',
    'CATCH_UP_MARGIN_MS',
    'HISTORY_RETENTION_MS',
    'OUTBOX_PRUNE_INTERVAL_MS',
    'REPLAY_STATEMENT_TIMEOUT_MS',
    'DRAIN_DELAY_MS',
    'DRAIN_BATCH_INTERVAL_MS',
    'CANARY_INTERVAL_MS',
    'PRESENCE_INTERVAL_MS',
    'SHUTDOWN_TIMEOUT_MS',
  ])('refuses %s past what a timer can hold, naming it', (name) => {
    expect(refusal({ [name]: OVER_TIMER_MAX })).toMatch(new RegExp(`^invalid configuration: ${name} must be .*between \\d+ and \\d+, got ${OVER_TIMER_MAX}$`));
  });

  // Before: any value from 1 ms was taken: a prune round, a canary commit or a presence write
  // to Redis every millisecond.
  it.each([
    ['OUTBOX_PRUNE_INTERVAL_MS', '1', 1000],
    ['CANARY_INTERVAL_MS', '1', 100],
    ['PRESENCE_INTERVAL_MS', '1', 100],
  ])('takes %s as 0 (off) or a sane interval, never a busy loop', (name, value, min) => {
    expect(refusal({ [name]: value })).toBe(`invalid configuration: ${name} must be 0 (off) or between ${min} and 86400000, got ${value}`);
    expect(refusal({ [name]: '0' })).toBeUndefined();
    expect(refusal({ [name]: String(min) })).toBeUndefined();
  });

  // Before: the drain's delay could reach the shutdown deadline, which then ended the process
  // (exit 1) before any client was closed with SERVER_DRAINING.
  it('refuses a drain delay that does not fit in the shutdown deadline', () => {
    expect(refusal({ DRAIN_DELAY_MS: '25000' })).toBe('invalid configuration: DRAIN_DELAY_MS must be less than SHUTDOWN_TIMEOUT_MS (25000), got 25000');
    expect(refusal({ DRAIN_DELAY_MS: '5000', SHUTDOWN_TIMEOUT_MS: '4000' })).toMatch(/DRAIN_DELAY_MS must be less than SHUTDOWN_TIMEOUT_MS \(4000\)/);
    expect(refusal({ DRAIN_DELAY_MS: '0', SHUTDOWN_TIMEOUT_MS: '1000' })).toBeUndefined();
  });

  // Before: the gateway took any list here (the listener and the chart refused it), so its
  // fallback LISTEN heard nothing (",") or listened on channels nobody notifies.
  it.each([',', ' , ', 'match_change,Match-Change', 'match_change;drop'])('refuses NOTIFY_CHANNELS=%j as the listener and the chart do', (value) => {
    expect(refusal({ NOTIFY_CHANNELS: value })).toMatch(/^invalid configuration: NOTIFY_CHANNELS /);
  });

  // Before: a well-formed name no trigger NOTIFYs (a typo) was taken, and a gateway in
  // Postgres LISTEN mode started, said it was listening, and delivered none of that table's events.
  it.each(['match_chnage', 'match_change,scoreboard_chnage', 'abc'])('refuses NOTIFY_CHANNELS=%j: a channel nothing notifies', (value) => {
    expect(refusal({ NOTIFY_CHANNELS: value })).toMatch(/^invalid configuration: NOTIFY_CHANNELS has an entry that is not one of matchdata_change, match_change, .+, canary_change: "/);
  });

  it('takes a valid NOTIFY_CHANNELS list', () => {
    expect(load({ NOTIFY_CHANNELS: 'match_change, canary_change' }).notifyChannels).toEqual(['match_change', 'canary_change']);
  });

  it.each([
    ['WS_MAX_CONNECTIONS', '1e3'],
    ['WS_MAX_CONNECTIONS', 'NaN'],
    ['WS_MAX_CONNECTIONS', '0'],
    ['WS_PING_INTERVAL_MS', '-1'],
    ['PORT', '65536'],
    ['USE_REDIS_NOTIFIER', 'maybe'],
    ['REDIS_URL', 'not a url'],
    ['LOG_LEVEL', 'loud'],
  ])('refuses %s=%j with its name', (name, value) => {
    expect(refusal({ [name]: value })).toMatch(new RegExp(`^invalid configuration: ${name} `));
  });

  // Before: taken up to 2^53 - 1, so a huge value switched the protection off (a per-connection
  // rate of a million messages a second, a send buffer of petabytes, a cap no pod can reach).
  it.each([
    ['WS_MAX_CONNECTIONS', '1', '100000', 'between 1 and 100000'],
    ['WS_MAX_BUFFERED_BYTES', '16384', '67108864', 'between 16384 and 67108864'],
    ['WS_MESSAGES_PER_SECOND', '1', '1000', 'between 1 and 1000'],
    ['HISTORY_MAX_EVENTS_PER_STREAM', '1', '1000000', 'between 1 and 1000000'],
    ['WS_MAX_CONNECTIONS_PER_IP', '0', '100000', '0 (off) or between 1 and 100000'],
    ['WS_CONNECTIONS_PER_IP_PER_SECOND', '0', '10000', '0 (off) or between 1 and 10000'],
    ['WS_MAX_CONNECTIONS_PER_USER', '0', '100000', '0 (off) or between 1 and 100000'],
    ['MEMORY_HISTORY_EVENTS_PER_STREAM', '0', '100000', '0 (off) or between 1 and 100000'],
    ['MEMORY_HISTORY_BYTES_PER_STREAM', '0', '67108864', 'between 0 and 67108864'],
    ['MEMORY_HISTORY_MAX_EVENTS', '0', '1000000', '0 (off) or between 1 and 1000000'],
    ['MEMORY_HISTORY_MAX_BYTES', '0', '1073741824', 'between 0 and 1073741824'],
    ['DRAIN_BATCH_SIZE', '1', '100000', 'between 1 and 100000'],
  ])('bounds %s: takes %s to %s, refuses more naming the variable and its range', (name, lowest, highest, range) => {
    expect(refusal({ [name]: lowest })).toBeUndefined();
    expect(refusal({ [name]: highest })).toBeUndefined();
    for (const over of [String(Number(highest) + 1), '9007199254740991']) {
      expect(refusal({ [name]: over })).toBe(`invalid configuration: ${name} must be ${range}, got ${over}`);
    }
  });
});
