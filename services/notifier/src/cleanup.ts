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
 * expired notifications, those past the retention, and each user's oldest beyond the cap,
 * chunk by chunk through matchcast_prune_notifications, until a chunk comes back short or
 * `term` ends. Returns how many it deleted.
 */
export async function pruneNotifications(options: CleanupOptions, term: AbortSignal): Promise<number> {
  const { pool, logger, metrics, retentionMs, maxPerUser, chunkSize, maxChunks = 100 } = options;
  let total = 0;
  try {
    for (let chunk = 0; chunk < maxChunks && !term.aborted; chunk += 1) {
      const { rows } = await pool.query<{ pruned: number }>(
        `SELECT matchcast_prune_notifications(make_interval(secs => $1::double precision / 1000), $2, $3) AS pruned`,
        [retentionMs, maxPerUser, chunkSize],
      );
      const pruned = (rows[0] as { pruned: number }).pruned;
      total += pruned;
      metrics.pruned.inc(pruned);
      if (pruned < chunkSize) break;
    }
  } catch (error) {
    metrics.errors.inc({ kind: 'transient' });
    logger.warn({ err: asError(error), pruned: total }, 'notification cleanup failed; next round retries');
  }
  if (total > 0) logger.info({ pruned: total }, 'old notifications pruned');
  return total;
}
