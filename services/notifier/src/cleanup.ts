import type { Pool } from 'pg';
import { asError, type Logger } from '@matchcast/runtime';
import type { NotifierMetrics } from './metrics';

export interface CleanupOptions {
  pool: Pool;
  logger: Logger;
  metrics: NotifierMetrics;
  retentionMs: number;
  maxPerUser: number;
  /** Rows deleted per statement: bounded chunks keep locks and WAL bursts short. */
  chunkSize: number;
  /** Most chunks in one round; the rest waits for the next interval. */
  maxChunks?: number;
}

/**
 * One cleanup round (the leader runs one per NOTIFICATION_CLEANUP_INTERVAL_MS): deletes
 * expired notifications and those past the retention, then each user's oldest beyond the cap,
 * chunk by chunk (at most maxChunks statements a round) until a chunk comes back short or `term`
 * ends. Who is over the cap is asked once a round (a scan of every notification); each of them is
 * then trimmed through their own index range (024_notification_trim.sql): a scan per chunk made
 * one user far over the cap cost a full scan per 1,000 rows deleted. Last, the idempotency keys of
 * deleted notifications whose 24 hours have passed (026_notification_keys_outlive_rows.sql; they
 * hold no more, so a round that runs out of budget before them only leaves them for the next).
 * Returns how many notifications it deleted.
 */
export async function pruneNotifications(options: CleanupOptions, term: AbortSignal): Promise<number> {
  const { pool, logger, metrics, retentionMs, maxPerUser, chunkSize, maxChunks = 100 } = options;
  let total = 0;
  let keys = 0;
  let statements = 0;
  const more = () => statements < maxChunks && !term.aborted;
  /** Runs a chunk's statement until one deletes fewer than a chunk, within the round's budget. */
  const chunks = async (sql: string, params: unknown[], counted: (pruned: number) => void = notifications) => {
    while (more()) {
      statements += 1;
      const { rows } = await pool.query<{ pruned: number }>(sql, params);
      const pruned = (rows[0] as { pruned: number }).pruned;
      counted(pruned);
      if (pruned < chunkSize) return;
    }
  };
  function notifications(pruned: number): void {
    total += pruned;
    metrics.pruned.inc(pruned);
  }
  try {
    await chunks(`SELECT matchcast_prune_expired_notifications(make_interval(secs => $1::double precision / 1000), $2) AS pruned`, [retentionMs, chunkSize]);
    if (more()) {
      statements += 1;
      const { rows: users } = await pool.query<{ user_id: string }>(`SELECT matchcast_notification_users_over($1, $2) AS user_id`, [maxPerUser, maxChunks]);
      for (const { user_id } of users) await chunks(`SELECT matchcast_trim_user_notifications($1, $2, $3) AS pruned`, [user_id, maxPerUser, chunkSize]);
    }
    await chunks(`SELECT matchcast_prune_notification_keys($1) AS pruned`, [chunkSize], (pruned) => (keys += pruned));
  } catch (error) {
    metrics.errors.inc({ kind: 'transient' });
    logger.warn({ err: asError(error), pruned: total, keys_pruned: keys }, 'notification cleanup failed; next round retries');
  }
  if (total > 0 || keys > 0) logger.info({ pruned: total, keys_pruned: keys }, 'old notifications pruned');
  return total;
}
