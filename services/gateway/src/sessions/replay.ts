import { readStream, streamHeadsOf, streamsChangedSince, withClient, type ChangedStream } from '@matchcast/db';
import { ProtocolError, type OutboxEvent } from '@matchcast/protocol';
import type { Logger } from '@matchcast/runtime';
import pg from 'pg';
import type { MemoryHistory } from '../delivery/history';
import { FairSlots, type Turn } from './fair-slots';
import { SharedReads } from './shared-reads';

/** Who a client-driven read is for: whether they are still there, and the address group whose turn it takes. */
export interface Caller {
  readonly group: string;
  alive(): boolean;
  /** When the read has to wait for a slot: its Turn, which the callers sharing it join (SharedReads). */
  queued?(turn: Turn): void;
}

export interface ReplayOptions {
  databaseUrl: string;
  /** Replays (and `since` look-ups) running at once per gateway: the size of their own pool. */
  concurrency: number;
  statementTimeoutMs: number;
  pageSize: number;
}

/** What the replayer reports; the gateway's metrics fit it. */
export interface ReplayMetrics {
  /** Per replayed stream and per `since` look-up: answered from memory alone, or with the outbox. */
  resumeSource: { inc(labels: { request: 'replay' | 'since'; source: 'memory' | 'outbox' }): void };
  /** Queries sent for clients' resumes, by kind (coalesced reads count once). */
  outboxReads: { inc(labels: { query: 'stream' | 'changed_since' | 'heads' }): void };
}

/**
 * What clients can ask for when they resume — replays and `since` look-ups — answered from the
 * gateway's memory of recent events (MemoryHistory) where it reaches back far enough, and
 * otherwise from the outbox, on a pool of its own so that no number of resuming clients can
 * starve the sequencer's gap fills and catch-ups. The pool's size is the concurrency limit;
 * others wait their turn, taken by client address group in rounds (FairSlots), so one address
 * cannot queue everyone else out. Every statement has a timeout, reads of the same stream range
 * are coalesced (SharedReads), and work for a client that has left is dropped before it
 * reaches the database.
 */
export class Replayer {
  private readonly pool: pg.Pool;
  private readonly slots: FairSlots;
  private readonly reads: SharedReads;

  constructor(
    options: ReplayOptions,
    logger: Logger,
    private readonly memory?: MemoryHistory,
    private readonly metrics?: ReplayMetrics,
  ) {
    this.reads = new SharedReads((stream, afterSeq, uptoSeq, caller) => {
      return this.run(caller, (db) => {
        this.metrics?.outboxReads.inc({ query: 'stream' });
        return readStream(db, stream, afterSeq, uptoSeq, options.pageSize);
      });
    }, options.pageSize);
    this.slots = new FairSlots(options.concurrency);
    this.pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.concurrency,
      statement_timeout: options.statementTimeoutMs,
      application_name: 'matchcast-gateway-replay',
    });
    this.pool.on('error', (error) => logger.warn({ err: error }, 'idle replay connection failed'));
  }

  /**
   * Hands every event of `stream` in (afterSeq, head] to `deliver`, in order: what memory holds
   * from there on at once, the rest from the outbox page by page (only the part memory does not
   * hold). The rows must be contiguous from afterSeq + 1: a missing row was pruned, and the
   * client gets RESUME_TOO_OLD instead of a silent gap. Stops early when the caller has left or
   * `deliver` returns false.
   */
  async replay(stream: string, afterSeq: number, head: number, caller: Caller, deliver: (event: OutboxEvent) => boolean): Promise<void> {
    let next = afterSeq + 1;
    let source: 'memory' | 'outbox' = 'memory';
    try {
      while (next <= head) {
        if (!caller.alive()) return;
        // Memory first: it may hold from `next` on (its oldest events may go meanwhile, so ask each time).
        const held = this.memory?.read(stream, next - 1, head) ?? [];
        for (const event of held) {
          if (!deliver(event)) return;
          next++;
        }
        if (held.length > 0) continue;
        source = 'outbox';
        // Read up to where memory begins, when it begins within the range.
        const oldest = this.memory?.oldestSeq(stream);
        const upto = oldest !== undefined && oldest > next && oldest <= head ? oldest - 1 : head;
        const page = await this.reads.get(stream, next - 1, upto, caller);
        if (page === undefined) return;
        for (const event of page) {
          if (event.seq !== next) break;
          if (!deliver(event)) return;
          next++;
        }
        if (next <= upto && (page.length === 0 || page[page.length - 1]!.seq !== next - 1)) {
          throw new ProtocolError('RESUME_TOO_OLD', `${stream} history from seq ${next} is gone; reload state`, { stream });
        }
      }
    } finally {
      this.metrics?.resumeSource.inc({ request: 'replay', source });
    }
  }

  /** The committed heads of these streams (stream_counter), for checking what a client claims to have. */
  committedHeads(streams: readonly string[], caller: Caller): Promise<Map<string, number> | undefined> {
    return this.run(caller, (db) => {
      this.metrics?.outboxReads.inc({ query: 'heads' });
      return streamHeadsOf(db, streams);
    });
  }

  /**
   * The streams in scope with events created after `since` - `marginMs`, and the seq to
   * replay each after: from memory when it can tell for every stream in scope, else the outbox.
   */
  async changedSince(since: string, marginMs: number, scope: Parameters<typeof streamsChangedSince>[3], caller: Caller): Promise<ChangedStream[] | undefined> {
    const fromMemory = this.memory?.changedSince(Date.parse(since) - marginMs, scope);
    this.metrics?.resumeSource.inc({ request: 'since', source: fromMemory ? 'memory' : 'outbox' });
    if (fromMemory) return fromMemory;
    return this.run(caller, (db) => {
      this.metrics?.outboxReads.inc({ query: 'changed_since' });
      return streamsChangedSince(db, since, marginMs, scope);
    });
  }

  /** Runs `work` on a pooled connection in the caller's turn, unless the caller left while it waited (any client-driven read, e.g. a stream start's snapshot). */
  async run<T>(caller: Caller, work: (db: pg.PoolClient) => Promise<T>): Promise<T | undefined> {
    if (!caller.alive()) return undefined;
    // The slots are as many as the pool's connections, so a turn never waits for one.
    return this.slots.run(caller.group, async () => (caller.alive() ? withClient(this.pool, work) : undefined), caller.queued);
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
