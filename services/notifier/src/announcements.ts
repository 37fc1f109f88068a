import type { Pool } from 'pg';
import { abortableSleep, asError, type Logger } from '@matchcast/runtime';
import type { NotifierMetrics } from './metrics';

export interface AnnouncementOptions {
  pool: Pool;
  logger: Logger;
  metrics: NotifierMetrics;
  intervalMs: number;
  /** Most announcements published (and expired) per round; the rest goes in the next. */
  limit: number;
}

/**
 * One round, through matchcast_run_announcements: publishes the scheduled announcements whose
 * start has come and expires the published ones whose expiry has (one transaction: the state
 * change and its event on the target's stream commit together, so a crash or a second leader
 * cannot publish twice), then notifies one batch of `limit` followers of a queued urgent
 * announcement (migration 020: publishing only queues them, so a league's tens of thousands of
 * followers are never one transaction; the round runs the batch, so the release before's
 * notifier does too). Returns whether the round was full (more may be due).
 */
export async function runAnnouncementRound(options: AnnouncementOptions): Promise<boolean> {
  const { pool, logger, metrics, limit } = options;
  try {
    const { rows } = await pool.query<{ published: number; expired: number; notified: number; more: boolean }>(
      'SELECT published, expired, notified, more FROM matchcast_run_announcements($1)',
      [limit],
    );
    const { published, expired, notified, more } = rows[0]!;
    metrics.announcements.inc({ change: 'published' }, published);
    metrics.announcements.inc({ change: 'expired' }, expired);
    if (published + expired > 0) logger.info({ published, expired }, 'announcements published / expired on time');
    metrics.notifications.inc(notified);
    return published >= limit || expired >= limit || more;
  } catch (error) {
    metrics.errors.inc({ kind: 'transient' });
    logger.warn({ err: asError(error) }, 'announcement round failed; the next retries');
    return false;
  }
}

/** The leader's loop: a round every intervalMs (at once again when a round was full) until the term ends. */
export async function announcementLoop(options: AnnouncementOptions, term: AbortSignal): Promise<void> {
  while (!term.aborted) {
    const full = await runAnnouncementRound(options);
    if (!full) await abortableSleep(options.intervalMs, term);
  }
}
