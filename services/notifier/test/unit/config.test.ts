import { EnvReader } from '@matchcast/runtime';
import { loadConfig } from '../../src/config';

const load = (env: Record<string, string>) => loadConfig(new EnvReader({ DATABASE_URL: 'postgres://u@h/db', ...env }));

describe('notifier config', () => {
  it('has the documented defaults', () => {
    expect(load({})).toMatchObject({
      port: 8092,
      batchSize: 1000,
      pollIntervalMs: 250,
      eventsPerPoll: 100,
      notificationTtlMs: 7 * 86_400_000,
      retentionMs: 30 * 86_400_000,
      maxPerUser: 1000,
      cleanupIntervalMs: 60_000,
      announcementIntervalMs: 1000,
      logLevel: 'info',
      shutdownTimeoutMs: 10_000,
    });
  });

  it('reads every variable', () => {
    expect(
      load({
        OPS_PORT: '9000',
        NOTIFIER_BATCH_SIZE: '500',
        NOTIFIER_POLL_INTERVAL_MS: '100',
        NOTIFIER_EVENTS_PER_POLL: '10',
        NOTIFICATION_TTL_MS: '3600000',
        NOTIFICATION_RETENTION_MS: '86400000',
        NOTIFICATION_MAX_PER_USER: '50',
        NOTIFICATION_CLEANUP_INTERVAL_MS: '1000',
        LOG_LEVEL: 'debug',
        SHUTDOWN_TIMEOUT_MS: '2000',
      }),
    ).toMatchObject({
      port: 9000,
      batchSize: 500,
      pollIntervalMs: 100,
      eventsPerPoll: 10,
      notificationTtlMs: 3_600_000,
      retentionMs: 86_400_000,
      maxPerUser: 50,
      cleanupIntervalMs: 1000,
      logLevel: 'debug',
      shutdownTimeoutMs: 2000,
    });
  });

  it.each([
    [{ DATABASE_URL: '' }, 'DATABASE_URL is required'],
    [{ DATABASE_URL: 'mysql://h/db' }, 'DATABASE_URL must use'],
    [{ NOTIFIER_BATCH_SIZE: '0' }, 'NOTIFIER_BATCH_SIZE must be between'],
    [{ NOTIFIER_BATCH_SIZE: 'lots' }, 'NOTIFIER_BATCH_SIZE must be an integer'],
    [{ NOTIFIER_EVENTS_PER_POLL: '-1' }, 'NOTIFIER_EVENTS_PER_POLL'],
    [{ NOTIFICATION_TTL_MS: '5' }, 'NOTIFICATION_TTL_MS must be between'],
    [{ NOTIFICATION_MAX_PER_USER: '0' }, 'NOTIFICATION_MAX_PER_USER must be between'],
    [{ OPS_PORT: '70000' }, 'OPS_PORT must be between'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be one of'],
  ])('refuses %j', (env, message) => {
    expect(() => load(env)).toThrow(message);
  });
});
