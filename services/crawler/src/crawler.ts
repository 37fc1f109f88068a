/**
 * Runs a source into the writer. Operations of one match are applied strictly in feed order
 * (one "lane" per match id); different matches commit concurrently, up to maxInFlight. A
 * transient database error retries the same operation with backoff until it commits or the
 * crawler closes; any other error skips the operation (logged and counted).
 */
import { performance } from 'node:perf_hooks';
import { backoffMs, type Logger } from '@matchcast/runtime';
import { isTransient } from './errors';
import { prefixIds, validateOp, type FeedOp } from './feed';
import type { CrawlerMetrics } from './metrics';
import type { Recorder } from './recorder';
import { sleep } from './sources/pacer';
import type { FeedSource } from './sources/source';
import type { WriteOutcome } from './writer';

export interface CrawlerOptions {
  source: FeedSource;
  writer: { apply(op: FeedOp): Promise<WriteOutcome> };
  logger: Logger;
  metrics?: CrawlerMetrics;
  recorder?: Recorder;
  /** 0 = until the source ends or close(); > 0 = stop after this many operations. */
  maxEvents?: number;
  idPrefix?: string;
  maxInFlight?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
}

export interface CrawlerStats {
  /** Operations taken from the source and handed to the writer. */
  dispatched: number;
  /** Operations whose transaction committed (including duplicates, which commit nothing). */
  committed: number;
  /** Retried operations that turned out to be written already (same event_id). */
  duplicates: number;
  /** Operations skipped because the database rejected them (not retryable). */
  rejected: number;
  /** Snapshots skipped because their match id is stored with another league or other teams (MATCH_CONFLICT). */
  conflicts: number;
  /** Operations given up on because close() came while they were waiting to retry. */
  abandoned: number;
  /** Transient failures that were retried. */
  retries: number;
}

type State = 'idle' | 'running' | 'stopped' | 'failed';

export class Crawler {
  private readonly abort = new AbortController();
  private readonly lanes = new Map<string, Promise<void>>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stats: CrawlerStats = { dispatched: 0, committed: 0, duplicates: 0, rejected: 0, conflicts: 0, abandoned: 0, retries: 0 };
  private readonly maxEvents: number;
  private readonly maxInFlight: number;
  private state: State = 'idle';
  private retrying = 0;
  private running: Promise<CrawlerStats> | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: CrawlerOptions) {
    this.maxEvents = options.maxEvents ?? 0;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 4);
  }

  /** Alive unless the run loop failed (the source threw). */
  get healthy(): boolean {
    return this.state !== 'failed';
  }

  /** Running and writing: no operation is stuck retrying a transient database error. */
  get ready(): boolean {
    return this.state === 'running' && this.retrying === 0;
  }

  snapshot(): Readonly<CrawlerStats & { state: State; in_flight: number }> {
    return { ...this.stats, state: this.state, in_flight: this.inFlight.size };
  }

  /** Starts (once) and resolves with the totals when the crawler stops. */
  run(): Promise<CrawlerStats> {
    this.running ??= this.loop();
    return this.running;
  }

  /** Stops taking operations, cuts retry waits short, and waits for in-flight ones; safe twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.abort.abort();
      if (this.running) await this.running.catch(() => undefined);
    })();
    return this.closing;
  }

  private async loop(): Promise<CrawlerStats> {
    const { source, logger } = this.options;
    const signal = this.abort.signal;
    this.state = 'running';
    try {
      while (!signal.aborted && (this.maxEvents === 0 || this.stats.dispatched < this.maxEvents)) {
        const op = await source.next(signal);
        if (op === undefined || signal.aborted) break;
        this.stats.dispatched++;
        this.dispatch(op);
        while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight);
      }
    } catch (error) {
      this.state = 'failed';
      logger.error({ err: error, code: (error as { code?: string }).code }, 'feed source failed; stopping');
      await Promise.all(this.inFlight);
      throw error;
    }
    await Promise.all(this.inFlight);
    this.state = 'stopped';
    return { ...this.stats };
  }

  private dispatch(op: FeedOp): void {
    const key = op.match_id;
    const previous = this.lanes.get(key) ?? Promise.resolve();
    const task = previous.then(() => this.execute(op));
    this.lanes.set(key, task);
    this.inFlight.add(task);
    void task.finally(() => {
      this.inFlight.delete(task);
      if (this.lanes.get(key) === task) this.lanes.delete(key);
    });
  }

  /** Writes one operation; never rejects. */
  private async execute(op: FeedOp): Promise<void> {
    const { writer, logger, metrics, recorder } = this.options;
    let target: FeedOp;
    try {
      // Re-validated after prefixing: a prefixed id must still be a valid id.
      target = this.options.idPrefix ? validateOp(prefixIds(op, this.options.idPrefix)) : op;
    } catch (error) {
      this.reject(op, error);
      return;
    }
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      try {
        const outcome = await writer.apply(target);
        metrics?.transactions.inc({ op: op.op });
        metrics?.duration.observe({ op: op.op }, (performance.now() - started) / 1000);
        if (op.op === 'snapshot' && outcome === 'applied' && op.provider_updated_at !== undefined) {
          metrics?.http.providerLag.observe(Math.max(0, Date.now() - Date.parse(op.provider_updated_at)) / 1000);
        }
        metrics?.lastCommit.setToCurrentTime();
        this.stats.committed++;
        if (outcome === 'duplicate') this.stats.duplicates++;
        recorder?.write(op);
        if (attempt > 0) {
          this.retrying--;
          logger.info({ op: op.op, match_id: target.match_id, attempts: attempt + 1 }, 'database write succeeded after retrying');
        }
        logger.debug({ op: op.op, match_id: target.match_id, outcome }, 'operation written');
        return;
      } catch (error) {
        if (!isTransient(error)) {
          if (attempt > 0) this.retrying--;
          this.reject(target, error);
          return;
        }
        metrics?.errors.inc({ kind: 'transient' });
        this.stats.retries++;
        if (attempt === 0) this.retrying++;
        const abandon = () => {
          this.retrying--;
          this.stats.abandoned++;
          logger.warn({ op: op.op, match_id: target.match_id, err: error }, 'operation abandoned at shutdown');
        };
        if (this.abort.signal.aborted) return abandon();
        const delay = backoffMs(attempt, this.options.retryBaseMs ?? 100, this.options.retryMaxMs ?? 5000);
        logger.warn(
          { op: op.op, match_id: target.match_id, attempt: attempt + 1, retry_in_ms: delay, code: (error as { code?: string }).code, err: error },
          'database write failed; retrying',
        );
        await sleep(delay, this.abort.signal);
        if (this.abort.signal.aborted) return abandon();
      }
    }
  }

  private reject(op: FeedOp, error: unknown): void {
    const conflict = (error as { code?: string }).code === 'MATCH_CONFLICT';
    this.options.metrics?.errors.inc({ kind: conflict ? 'conflict' : 'rejected' });
    if (conflict) this.stats.conflicts++;
    else this.stats.rejected++;
    this.options.logger.error(
      { op: op.op, match_id: op.match_id, code: (error as { code?: string }).code, err: error },
      'operation rejected; skipped',
    );
  }
}
