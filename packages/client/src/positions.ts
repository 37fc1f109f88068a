/**
 * Seq bookkeeping: the last seq per stream (dedup and order), the newest event timestamp
 * (`since`), and the bounded `resume` map sent on every reconnect.
 */

import { STREAM_PATTERN } from './wire.js';

export type Verdict = 'next' | 'gap' | 'duplicate';

/**
 * Most streams remembered: a channel such as `all` carries every match's stream, and a long
 * session (or a hostile server inventing stream names) would otherwise grow the map for ever.
 * The least recently active go first; `resume` only ever sends the most recent `maxResume`.
 */
export const MAX_STREAMS = 10_000;

interface Position {
  seq: number;
  /** The channel the stream's last event came on; undefined for a seeded position. */
  channel: string | undefined;
}

export class Positions {
  /** Insertion order is recency order: a stream moves to the end whenever it advances. */
  private readonly streams = new Map<string, Position>();
  private newest: { at: number; timestamp: string } | undefined;
  private holding = false;
  private held: { at: number; timestamp: string } | undefined;
  /** Events that arrived with seq > last + 1 (should not happen with matchcast). */
  gaps = 0;
  /** Events dropped because their seq was not above the last one. */
  duplicates = 0;

  /** Judges an event and, unless it is a duplicate, records it as the stream's last. */
  accept(stream: string, seq: number, channel: string, timestamp?: string): Verdict {
    const last = this.streams.get(stream);
    if (last && seq <= last.seq) {
      this.duplicates++;
      return 'duplicate';
    }
    this.remember(stream, { seq, channel });
    if (timestamp !== undefined) this.noteTime(timestamp);
    if (last && seq > last.seq + 1) {
      this.gaps++;
      return 'gap';
    }
    return 'next';
  }

  /** The last seq of a stream, if known. */
  get(stream: string): number | undefined {
    return this.streams.get(stream)?.seq;
  }

  /** Positions from a snapshot (e.g. GET /api/matches): never moves a stream backwards. */
  seed(positions: Record<string, number>): void {
    for (const [stream, seq] of Object.entries(positions)) {
      // Only what a `resume` can carry: a refused reconnect subscription would be fatal.
      if (!Number.isSafeInteger(seq) || seq < 0 || !STREAM_PATTERN.test(stream)) continue;
      const last = this.streams.get(stream);
      if (last && last.seq >= seq) continue;
      this.remember(stream, { seq, channel: last?.channel });
    }
  }

  /** Records a stream's position as the most recent, forgetting the least recent beyond MAX_STREAMS. */
  private remember(stream: string, position: Position): void {
    this.streams.delete(stream);
    this.streams.set(stream, position);
    if (this.streams.size > MAX_STREAMS) this.streams.delete(this.streams.keys().next().value!);
  }

  /** Forgets one stream (its history is gone; the next event or seed starts it again). */
  forget(stream: string): void {
    this.streams.delete(stream);
  }

  /** Forgets every stream last seen on `channel` (the client unsubscribed it). */
  forgetChannel(channel: string): void {
    for (const [stream, position] of this.streams) if (position.channel === channel) this.streams.delete(stream);
  }

  /** Remembers `timestamp` for `since` if it is the newest seen (held aside while catching up). */
  noteTime(timestamp: string): void {
    const at = Date.parse(timestamp);
    if (Number.isNaN(at)) return;
    if (this.holding) {
      if (!this.held || at > this.held.at) this.held = { at, timestamp };
    } else if (!this.newest || at > this.newest.at) {
      this.newest = { at, timestamp };
    }
  }

  /**
   * While a resume is being replayed, the server sends stream after stream: a newer event of
   * one stream comes before older ones of the next. Their timestamps are held aside until a
   * replay is known to be complete (releaseTimes), so a connection lost mid-replay does not
   * move `since` past events of streams it had not replayed yet. What was held then stays
   * held (the events were received) until the next connection's replay completes.
   */
  holdTimes(): void {
    this.holding = true;
  }

  get isHolding(): boolean {
    return this.holding;
  }

  /** A replay is complete: what was held counts for `since`. */
  releaseTimes(): void {
    const held = this.held;
    this.holding = false;
    this.held = undefined;
    if (held) this.noteTime(held.timestamp);
  }

  /** The `since` to send: the newest event timestamp seen (or noted server time). */
  get since(): string | undefined {
    return this.newest?.timestamp;
  }

  /**
   * The `resume` map for a subscribe: streams seen on a channel still in `channels` (or
   * seeded and not seen yet), most recently active first, at most `limit` of them. Streams
   * left out are covered by `since`.
   */
  resume(channels: ReadonlySet<string>, limit: number): Record<string, number> {
    const resume: Record<string, number> = {};
    let count = 0;
    const entries = [...this.streams];
    for (let i = entries.length - 1; i >= 0 && count < limit; i--) {
      const [stream, { seq, channel }] = entries[i]!;
      if (channel !== undefined && !channels.has(channel)) continue;
      resume[stream] = seq;
      count++;
    }
    return resume;
  }

  /** Seeded streams not seen on any channel yet (to resume when a channel is added live). */
  unattached(limit: number): Record<string, number> {
    const resume: Record<string, number> = {};
    let count = 0;
    for (const [stream, { seq, channel }] of this.streams) {
      if (count >= limit) break;
      if (channel === undefined) {
        resume[stream] = seq;
        count++;
      }
    }
    return resume;
  }

  get size(): number {
    return this.streams.size;
  }
}
