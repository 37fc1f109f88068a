import { pruneOutbox } from '@matchcast/db';
import type { Logger } from '@matchcast/runtime';
import type { Pool } from 'pg';
import type { Gauge } from 'prom-client';

export interface RetentionOptions {
  intervalMs: number;
  retentionMs: number;
  keepPerStream: number;
  /** Set to the time of each finished round this gateway ran (the "outbox not pruned" alert). */
  prunedAt: Gauge;
}

/**
 * Prunes the outbox on a schedule, never inside the resume window (see pruneOutbox).
 * Every gateway runs it; an advisory lock lets one at a time do the work.
 */
export function startRetention(db: Pool, options: RetentionOptions, logger: Logger): () => void {
  if (options.intervalMs === 0) return () => undefined;
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      let removed: number | undefined;
      do {
        removed = await pruneOutbox(db, options.retentionMs, options.keepPerStream);
        if (removed) logger.info({ removed }, 'outbox pruned');
      } while (removed === 10_000);
      // undefined: another gateway held the lock this round, and its gauge says when it pruned.
      if (removed !== undefined) options.prunedAt.setToCurrentTime();
    } catch (error) {
      logger.warn({ err: error }, 'outbox prune failed; will retry');
    } finally {
      running = false;
    }
  }, options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
