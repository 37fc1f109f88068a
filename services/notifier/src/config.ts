import { hostname } from 'node:os';
import { EnvReader, POSTGRES_PROTOCOLS, LOG_LEVELS } from '@matchcast/runtime';

const DAY_MS = 86_400_000;

export interface Config {
  readonly databaseUrl: string;
  /** Ops HTTP server (/healthz /readyz /metrics). Port 0 picks a free one (tests). */
  readonly port: number;
  /** Followers per transaction (one matchcast_notify_users call each). */
  readonly batchSize: number;
  readonly pollIntervalMs: number;
  /** Outbox rows read per poll. */
  readonly eventsPerPoll: number;
  /** expires_at of the notifications it creates, from now. */
  readonly notificationTtlMs: number;
  /** Notifications older than this are pruned, read or not. */
  readonly retentionMs: number;
  /** Each user's newest this many are kept; older ones are pruned. */
  readonly maxPerUser: number;
  readonly cleanupIntervalMs: number;
  /** How often the leader publishes and expires the announcements that are due. */
  readonly announcementIntervalMs: number;
  readonly notifierId: string;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly shutdownTimeoutMs: number;
}

/** Reads the notifier's configuration once; a bad value fails with the variable's name. */
export function loadConfig(env = new EnvReader()): Config {
  return Object.freeze({
    databaseUrl: env.requiredUrl('DATABASE_URL', POSTGRES_PROTOCOLS),
    port: env.int('OPS_PORT', 8092, { min: 0, max: 65_535 }),
    batchSize: env.int('NOTIFIER_BATCH_SIZE', 1000, { min: 1, max: 10_000 }),
    pollIntervalMs: env.durationMs('NOTIFIER_POLL_INTERVAL_MS', 250, { min: 10, max: 60_000 }),
    eventsPerPoll: env.int('NOTIFIER_EVENTS_PER_POLL', 100, { min: 1, max: 10_000 }),
    notificationTtlMs: env.durationMs('NOTIFICATION_TTL_MS', 7 * DAY_MS, { min: 1000, max: 365 * DAY_MS }),
    retentionMs: env.durationMs('NOTIFICATION_RETENTION_MS', 30 * DAY_MS, { min: 1000, max: 3650 * DAY_MS }),
    maxPerUser: env.int('NOTIFICATION_MAX_PER_USER', 1000, { min: 1, max: 1_000_000 }),
    cleanupIntervalMs: env.durationMs('NOTIFICATION_CLEANUP_INTERVAL_MS', 60_000, { min: 100, max: DAY_MS }),
    announcementIntervalMs: env.durationMs('ANNOUNCEMENT_INTERVAL_MS', 1000, { min: 50, max: 60_000 }),
    notifierId: `${hostname()}-${process.pid}`,
    logLevel: env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    shutdownTimeoutMs: env.durationMs('SHUTDOWN_TIMEOUT_MS', 10_000, { min: 100, max: 600_000 }),
  });
}
