/**
 * The leader's work: read the match outbox past the cursor, and for each notifiable row
 * notify its followers, one transaction per batch of followers. Every transaction moves the
 * cursor over exactly what it committed, so a crash anywhere resumes where the last commit
 * left off; notification source keys ('outbox:<id>') make even a replay harmless.
 */
import { performance } from 'node:perf_hooks';
import type { Pool, PoolClient } from 'pg';
import { inTransaction } from '@matchcast/db';
import { abortableSleep, asError, backoffMs, type Logger } from '@matchcast/runtime';
import {
  CursorMovedError,
  currentHorizon,
  loadCursor,
  lockCursor,
  maxXid,
  readPending,
  readRow,
  sameCursor,
  saveCursor,
  type Cursor,
  type PendingRow,
} from './cursor';
import { notificationFor, type MatchNotification } from './events';
import { followersPage, notifyUsers } from './followers';
import type { NotifierMetrics } from './metrics';

export interface WorkerOptions {
  pool: Pool;
  logger: Logger;
  metrics: NotifierMetrics;
  batchSize: number;
  eventsPerPoll: number;
  pollIntervalMs: number;
  notificationTtlMs: number;
}

/** The leadership term ended (the lock's connection is gone): stop without another write. */
class TermEndedError extends Error {
  constructor() {
    super('leadership lost');
    this.name = 'TermEndedError';
  }
}

export class Worker {
  /** What the database holds (each transaction checks it is still so). */
  private stored: Cursor | undefined;
  /** Where reading has got to: ahead of `stored` past rows that needed no transaction. */
  private position: Cursor | undefined;
  private wakeUp: (() => void) | undefined;
  private woken = false;

  constructor(private readonly options: WorkerOptions) {}

  /** A match change was committed: poll now instead of at the end of the interval. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /**
   * Works until `term` aborts (leadership lost or shutdown). Starts from the stored cursor:
   * whatever a previous leader committed is where this one begins.
   */
  async run(term: AbortSignal): Promise<void> {
    const { logger, metrics } = this.options;
    this.stored = this.position = undefined;
    let failures = 0;
    while (!term.aborted) {
      try {
        const more = await this.poll(term);
        failures = 0;
        if (!more) await this.sleep(this.options.pollIntervalMs, term);
      } catch (error) {
        if (error instanceof TermEndedError || term.aborted) break;
        // Start again from what the database holds.
        this.stored = this.position = undefined;
        if (error instanceof CursorMovedError) {
          logger.warn('the cursor moved under this notifier (another leader?); re-reading it');
          continue;
        }
        metrics.errors.inc({ kind: 'transient' });
        const delay = backoffMs(failures++, 200, 5000);
        logger.warn({ err: asError(error), delay_ms: delay }, 'notifier poll failed; retrying');
        await this.sleep(delay, term);
      }
    }
    metrics.setLagSource(undefined);
  }

  /** One pass; true when there is more to read right away. */
  async poll(term: AbortSignal): Promise<boolean> {
    const { pool, eventsPerPoll } = this.options;
    if (!this.stored) {
      this.stored = this.position = await loadCursor(pool);
      await this.rewindIfAhead(term);
    }
    let position = this.position as Cursor;
    if (position.afterUser !== '') {
      // Resume the row a previous leader (or this one, before an error) was in the middle of.
      const row = await readRow(pool, position.eventId);
      if (row) await this.process(row, position.afterUser, term);
      else {
        this.options.logger.warn({ outbox_id: position.eventId }, 'outbox row pruned in the middle of its followers; the rest are not notified');
        await this.commitCursor({ ...position, afterUser: '' }, term);
      }
      position = this.position as Cursor;
    }
    // Below this, every transaction has ended: the rows under it are final.
    const horizon = await currentHorizon(pool);
    const rows = await readPending(pool, position, horizon, eventsPerPoll);
    for (const row of rows) await this.process(row, '', term);
    if (rows.length === eventsPerPoll) return true;
    // Range exhausted: everything below the horizon is done.
    this.options.metrics.setLagSource(undefined);
    const done: Cursor = { horizon: maxXid(position.horizon, horizon), eventId: '0', afterUser: '' };
    if (!sameCursor(done, this.stored as Cursor)) await this.commitCursor(done, term);
    return false;
  }

  /**
   * A stored position past every transaction the database has had cannot come from this
   * database (it was restored from another cluster's dump, or written by hand): rows are read
   * only above it, so not one would ever be notified again, silently. It starts again at the
   * current horizon, as a fresh cursor does, and says so.
   */
  private async rewindIfAhead(term: AbortSignal): Promise<void> {
    const stored = this.stored as Cursor;
    const horizon = await currentHorizon(this.options.pool);
    if (BigInt(stored.horizon) <= BigInt(horizon)) return;
    this.options.logger.error(
      { cursor_horizon: stored.horizon, database_horizon: horizon },
      'notifier cursor is ahead of every transaction of this database (restored from another cluster?); starting again at the current horizon',
    );
    await this.commitCursor({ horizon, eventId: '0', afterUser: '' }, term);
  }

  private async process(row: PendingRow, afterUser: string, term: AbortSignal): Promise<void> {
    const { metrics } = this.options;
    metrics.setLagSource(row.created_at);
    const notification = notificationFor(row);
    if (notification) await this.notifyFollowers(row, notification, afterUser, term);
    // Rows that notify nobody need no transaction: the next commit covers them.
    this.position = { horizon: row.txid, eventId: row.id, afterUser: '' };
  }

  private async notifyFollowers(row: PendingRow, n: MatchNotification, afterUser: string, term: AbortSignal): Promise<void> {
    const { batchSize, metrics, logger, notificationTtlMs } = this.options;
    // From the event's time, so a replayed batch gets the same expiry as the first.
    const expiresAt = new Date(row.created_at.getTime() + notificationTtlMs);
    const sourceKey = `outbox:${row.id}`;
    let after = afterUser;
    let notified = 0;
    for (;;) {
      const startedAt = performance.now();
      let created = 0;
      let next: Cursor;
      try {
        next = await this.transaction(term, async (client) => {
          const users = await followersPage(client, n, after, batchSize);
          if (users.length > 0) created = await notifyUsers(client, users, n, expiresAt, sourceKey);
          const last = users.length === batchSize ? (users[users.length - 1] as string) : '';
          return { horizon: row.txid, eventId: row.id, afterUser: last };
        });
      } catch (error) {
        if (!isRefusedData(error)) throw error;
        // The database refuses this notification's data (it would every time): skip the event, loudly.
        metrics.errors.inc({ kind: 'rejected' });
        logger.error({ err: asError(error), outbox_id: row.id, type: n.kind }, 'notification rejected by the database; event skipped');
        await this.commitCursor({ horizon: row.txid, eventId: row.id, afterUser: '' }, term);
        return;
      }
      metrics.batchDuration.observe((performance.now() - startedAt) / 1000);
      metrics.notifications.inc(created);
      notified += created;
      if (next.afterUser === '') break;
      after = next.afterUser;
    }
    metrics.events.inc({ type: n.kind });
    logger.debug({ outbox_id: row.id, type: n.kind, match_id: n.matchId, notified }, 'followers notified');
  }

  /** Moves the cursor alone (past rows that needed no notification). */
  private async commitCursor(next: Cursor, term: AbortSignal): Promise<void> {
    await this.transaction(term, async () => next);
  }

  /**
   * One transaction that locks and checks the cursor, does `work`, and stores the cursor that
   * `work` returns with it; refuses to begin once the leadership term has ended.
   */
  private async transaction(term: AbortSignal, work: (client: PoolClient) => Promise<Cursor>): Promise<Cursor> {
    if (term.aborted) throw new TermEndedError();
    const next = await inTransaction(this.options.pool, async (client) => {
      await lockCursor(client, this.stored as Cursor);
      const moved = await work(client);
      await saveCursor(client, moved);
      if (term.aborted) throw new TermEndedError();
      return moved;
    });
    this.stored = this.position = next;
    return next;
  }

  /** Sleeps until `ms` pass, wake() is called or the term ends. */
  private async sleep(ms: number, term: AbortSignal): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return;
    }
    if (term.aborted) return;
    const stop = new AbortController();
    const onEnd = () => stop.abort();
    term.addEventListener('abort', onEnd);
    this.wakeUp = onEnd;
    await abortableSleep(ms, stop.signal);
    term.removeEventListener('abort', onEnd);
    this.wakeUp = undefined;
    this.woken = false;
  }
}

/**
 * A data exception or constraint violation (SQLSTATE classes 22, 23): this notification will
 * never be accepted. Anything else — a lost connection, a missing grant — is retried, so a
 * fixable outage loses no notification.
 */
function isRefusedData(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code);
}
