import { readStream, streamHeadsOf, streamsChangedSince, type ChangedStream } from '@matchcast/db';
import { ProtocolError, type OutboxEvent } from '@matchcast/protocol';
import type { Logger } from '@matchcast/runtime';
import pg from 'pg';

export interface ReplayOptions {
  databaseUrl: string;
  /** Replays (and `since` look-ups) running at once per gateway: the size of their own pool. */
  concurrency: number;
  statementTimeoutMs: number;
  pageSize: number;
}

/**
 * The database work that clients can ask for — resume replays and `since` look-ups — on a
 * pool of its own, so that no number of resuming clients can starve the sequencer's gap
 * fills and catch-ups. The pool's size is the concurrency limit (others wait their turn),
 * every statement has a timeout, and work for a client that has left is dropped before it
 * reaches the database.
 */
export class Replayer {
  private readonly pool: pg.Pool;

  constructor(
    private readonly options: ReplayOptions,
    logger: Logger,
  ) {
    this.pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.concurrency,
      statement_timeout: options.statementTimeoutMs,
      application_name: 'matchcast-gateway-replay',
    });
    this.pool.on('error', (error) => logger.warn({ err: error }, 'idle replay connection failed'));
  }

  /**
   * Hands every event of `stream` in (afterSeq, head] to `deliver`, in order, page by page.
   * The rows must be contiguous from afterSeq + 1: a missing row was pruned, and the client
   * gets RESUME_TOO_OLD instead of a silent gap. Stops early when `alive` turns false or
   * `deliver` returns false.
   */
  async replay(stream: string, afterSeq: number, head: number, alive: () => boolean, deliver: (event: OutboxEvent) => boolean): Promise<void> {
    let next = afterSeq + 1;
    while (next <= head) {
      const page = await this.run(alive, (db) => readStream(db, stream, next - 1, head, this.options.pageSize));
      if (page === undefined) return;
      for (const event of page) {
        if (event.seq !== next) break;
        if (!deliver(event)) return;
        next++;
      }
      if (next <= head && (page.length === 0 || page[page.length - 1]!.seq !== next - 1)) {
        throw new ProtocolError('RESUME_TOO_OLD', `${stream} history from seq ${next} is gone; reload state`, { stream });
      }
    }
  }

  /** The committed heads of these streams (stream_counter), for checking what a client claims to have. */
  committedHeads(streams: readonly string[], alive: () => boolean): Promise<Map<string, number> | undefined> {
    return this.run(alive, (db) => streamHeadsOf(db, streams));
  }

  changedSince(since: string, marginMs: number, scope: Parameters<typeof streamsChangedSince>[3], alive: () => boolean): Promise<ChangedStream[] | undefined> {
    return this.run(alive, (db) => streamsChangedSince(db, since, marginMs, scope));
  }

  /** Runs `work` on a pooled connection, unless the client left while it waited for one (any client-driven read, e.g. a stream start's snapshot). */
  async run<T>(alive: () => boolean, work: (db: pg.PoolClient) => Promise<T>): Promise<T | undefined> {
    if (!alive()) return undefined;
    const db = await this.pool.connect();
    try {
      return alive() ? await work(db) : undefined;
    } finally {
      db.release();
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
