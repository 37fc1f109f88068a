import type { OutboxEvent } from '@matchcast/protocol';
import type { Turn } from './fair-slots';
import type { Caller } from './replay';

/** One outbox read of a stream's seqs in (afterSeq, endSeq], and who waits for it. */
interface Read {
  afterSeq: number;
  /** The highest seq the read can return (its upper bound, or where its row limit ends). */
  endSeq: number;
  waiters: Caller[];
  rows: Promise<OutboxEvent[] | undefined>;
  /** While it waits for a slot: its place in the round, which each waiter's group joins. */
  turn?: Turn;
}

/**
 * Coalesces reads of stream ranges: a read asked for while another of the same stream is
 * queued or running, and that one's range covers it, waits for that one instead of sending a
 * query of its own — a thousand clients resuming the same stream cost one query. A shared read
 * goes on while any of its waiters is there, in the first turn of any of their groups: in the
 * turn of the one that asked first only, a client joining a read that one address queued behind
 * a hundred of its own waited for all of them.
 */
export class SharedReads {
  private readonly running = new Map<string, Read[]>();

  constructor(
    /** Reads (afterSeq, uptoSeq] of a stream, at most `limit` rows, unless the caller left first. */
    private readonly read: (stream: string, afterSeq: number, uptoSeq: number, caller: Caller) => Promise<OutboxEvent[] | undefined>,
    private readonly limit: number,
  ) {}

  /** The rows of (afterSeq, uptoSeq] (at most `limit` of them, fewer when a page reaches its byte bound, in seq order), or undefined when the client left. */
  async get(stream: string, afterSeq: number, uptoSeq: number, caller: Caller): Promise<OutboxEvent[] | undefined> {
    const endSeq = Math.min(uptoSeq, afterSeq + this.limit);
    const reads = this.running.get(stream);
    const joined = reads?.find((read) => read.afterSeq <= afterSeq && read.endSeq >= endSeq);
    if (joined) {
      joined.waiters.push(caller);
      joined.turn?.join(caller.group);
      const rows = await joined.rows;
      if (rows === undefined) return undefined;
      // A page ends early at its byte bound: when it ended before this caller's range begins,
      // it says nothing of that range (an empty answer would read as history gone).
      const reached = rows.length > 0 ? rows[rows.length - 1]!.seq : joined.afterSeq;
      if (reached < joined.endSeq && reached <= afterSeq) return this.get(stream, afterSeq, uptoSeq, caller);
      return rows.filter((row) => row.seq > afterSeq && row.seq <= endSeq);
    }
    const read: Read = { afterSeq, endSeq, waiters: [caller], rows: Promise.resolve(undefined) };
    read.rows = this.read(stream, afterSeq, endSeq, {
      group: caller.group,
      alive: () => read.waiters.some((waiter) => waiter.alive()),
      queued: (turn) => (read.turn = turn),
    });
    this.running.set(stream, [...(reads ?? []), read]);
    try {
      return await read.rows;
    } finally {
      const left = (this.running.get(stream) ?? []).filter((other) => other !== read);
      if (left.length > 0) this.running.set(stream, left);
      else this.running.delete(stream);
    }
  }
}
