import { isPrivateStream, type OutboxEvent } from '@matchcast/protocol';

export interface HistoryLimits {
  eventsPerStream: number;
  bytesPerStream: number;
  totalEvents: number;
  totalBytes: number;
}

/**
 * How far the gateway's clock and the database's may differ. Event timestamps are the
 * database's; the times the history notes (start, arrival) are the gateway's.
 */
const CLOCK_SKEW_MS = 1000;
/** An entry's `last` after its seqs jumped: the next event recorded starts it again. */
const RESTART = -1;
/** Fixed cost counted per held event beside its JSON (the node, the event object, the indexes). */
const EVENT_OVERHEAD_BYTES = 200;

/** One held event; also a node of the list of all held events, oldest first. */
interface Held {
  readonly event: OutboxEvent;
  readonly bytes: number;
  /** The event's timestamp (the database's clock), ms. */
  readonly createdMs: number;
  /** When this gateway delivered it (its own clock), ms: the event committed before that. */
  readonly receivedMs: number;
  readonly entry: Entry;
  older: Held | undefined;
  newer: Held | undefined;
}

/** A stream's held events: contiguous seqs, oldest at events[start]. */
interface Entry {
  readonly stream: string;
  events: Held[];
  start: number;
  bytes: number;
  /** The last seq delivered: the next one recorded must follow it, or the history restarts. */
  last: number;
  /** Every event of the stream not held was created at or before this (ms, database clock). */
  horizonMs: number;
}

/** A stream that changed since a point in time (the shape of the outbox's answer). */
export interface ChangedSince {
  stream: string;
  afterSeq: number;
  routing: OutboxEvent;
}

export interface SinceScope {
  known: readonly string[];
  matchStreams: boolean;
  namedStreams: readonly string[];
}

/**
 * The recent events of every stream this gateway follows, kept in memory so that a resume
 * (and a `since`) is answered without the database when it reaches back no further.
 *
 * Filled only by the sequencer with what it delivers: contiguous, in order, no holes — a seq
 * that does not follow the last one restarts the stream's history. Bounded per stream and in
 * total, by events and by bytes (JSON length, roughly); the oldest events go first.
 *
 * For `since` it also knows what it does not hold: per stream, the newest timestamp of an
 * event it no longer has (evicted, or delivered before it started following the stream). A
 * `since` reaching back past that for any stream it must look at is not answered here.
 */
export class MemoryHistory {
  private readonly entries = new Map<string, Entry>();
  /** The match streams among entries: what a `since` over match streams looks at. */
  private readonly matchEntries = new Map<string, Entry>();
  private oldest: Held | undefined;
  private newest: Held | undefined;
  private totalEvents = 0;
  private totalBytes = 0;
  /** Public streams are followed from here on (ms, database clock bound); undefined before start(). */
  private startedMs: number | undefined;

  constructor(
    private readonly limits: HistoryLimits,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.limits.totalEvents > 0 && this.limits.eventsPerStream > 0;
  }

  /** The held event count and bytes, for the metrics. */
  size(): { events: number; bytes: number; streams: number } {
    return { events: this.totalEvents, bytes: this.totalBytes, streams: this.entries.size };
  }

  /**
   * The sequencer follows every public stream from now on (it has read their heads): an event
   * delivered before this was created before it.
   */
  start(): void {
    this.startedMs = this.now() + CLOCK_SKEW_MS;
  }

  /**
   * A private stream is followed from now on (its head was read): an empty history for it,
   * so that a `since` can tell "nothing happened" from "not followed".
   */
  follow(stream: string, lastSeq: number): void {
    if (!this.enabled) return;
    this.forget(stream);
    this.entries.set(stream, this.newEntry(stream, lastSeq, this.now() + CLOCK_SKEW_MS));
  }

  /**
   * The stream is no longer followed (a private stream's last local subscriber left), or its
   * seqs jumped (rows pruned before they were delivered). A private stream is dropped; a public
   * one keeps its entry, empty, knowing that events it never saw were created before now.
   */
  forget(stream: string): void {
    const entry = this.entries.get(stream);
    if (!entry) return;
    while (entry.start < entry.events.length) this.evictOldestOf(entry);
    if (isPrivateStream(stream)) {
      this.entries.delete(stream);
      return;
    }
    entry.horizonMs = Math.max(entry.horizonMs, this.now() + CLOCK_SKEW_MS);
    entry.last = RESTART;
  }

  /** An event the sequencer delivered: the next seq of its stream. */
  record(event: OutboxEvent): void {
    if (!this.enabled) return;
    const receivedMs = this.now();
    let entry = this.entries.get(event.stream);
    if (entry && entry.last !== RESTART && event.seq !== entry.last + 1) {
      // Not the next seq (skipped ahead past pruned rows): what came before is not held.
      this.forget(event.stream);
      entry = this.entries.get(event.stream);
    }
    if (entry?.last === RESTART) entry.last = event.seq - 1;
    if (!entry) {
      // Nothing of a private stream is known before follow(); a public stream's earlier
      // events came before start() — or there are none, when this is its first.
      const horizonMs = event.seq === 1 ? -Infinity : isPrivateStream(event.stream) || this.startedMs === undefined ? receivedMs + CLOCK_SKEW_MS : this.startedMs;
      entry = this.newEntry(event.stream, event.seq - 1, horizonMs);
      this.entries.set(event.stream, entry);
    }
    const bytes = JSON.stringify(event.data).length + EVENT_OVERHEAD_BYTES;
    const held: Held = { event, bytes, createdMs: Date.parse(event.timestamp), receivedMs, entry, older: this.newest, newer: undefined };
    if (this.newest) this.newest.newer = held;
    else this.oldest = held;
    this.newest = held;
    entry.events.push(held);
    entry.bytes += bytes;
    entry.last = event.seq;
    this.totalEvents++;
    this.totalBytes += bytes;
    while (entry.start < entry.events.length && (entry.events.length - entry.start > this.limits.eventsPerStream || entry.bytes > this.limits.bytesPerStream)) {
      this.evictOldestOf(entry);
    }
    while (this.oldest && (this.totalEvents > this.limits.totalEvents || this.totalBytes > this.limits.totalBytes)) {
      this.evictOldestOf(this.oldest.entry);
    }
  }

  /** The oldest seq held of a stream, or undefined when none is. */
  oldestSeq(stream: string): number | undefined {
    const entry = this.entries.get(stream);
    return entry && entry.start < entry.events.length ? entry.events[entry.start]!.event.seq : undefined;
  }

  /**
   * The held events of a stream from afterSeq + 1 on, up to uptoSeq, in order; empty when
   * afterSeq + 1 is not held (older than the history, or not delivered yet).
   */
  read(stream: string, afterSeq: number, uptoSeq: number): OutboxEvent[] {
    const entry = this.entries.get(stream);
    const first = this.oldestSeq(stream);
    if (!entry || first === undefined || afterSeq + 1 < first || afterSeq >= entry.last) return [];
    const from = entry.start + (afterSeq + 1 - first);
    const to = entry.start + (Math.min(uptoSeq, entry.last) - first) + 1;
    const events: OutboxEvent[] = [];
    for (let i = from; i < to; i++) events.push(entry.events[i]!.event);
    return events;
  }

  /**
   * The streams in `scope` (less `known`) with events created at or after `sinceMs` (database
   * clock), each with the seq to replay after — as the outbox would answer — or undefined when
   * the history cannot tell for some stream in scope (it may lack such an event).
   */
  changedSince(sinceMs: number, scope: SinceScope): ChangedSince[] | undefined {
    if (!this.enabled || this.startedMs === undefined || sinceMs < this.startedMs) return undefined;
    const known = new Set(scope.known);
    const changed: ChangedSince[] = [];
    const look = (entry: Entry): boolean => {
      if (known.has(entry.stream)) return true;
      if (entry.horizonMs > sinceMs) return false;
      const first = firstCreatedSince(entry, sinceMs);
      if (first) changed.push({ stream: entry.stream, afterSeq: first.seq - 1, routing: first });
      return true;
    };
    for (const stream of scope.namedStreams) {
      const entry = this.entries.get(stream);
      // A public stream with no entry had no event since start(); a private one is not followed.
      if (!entry) {
        if (isPrivateStream(stream)) return undefined;
        continue;
      }
      if (!(scope.matchStreams && this.matchEntries.has(stream)) && !look(entry)) return undefined;
    }
    if (scope.matchStreams) for (const entry of this.matchEntries.values()) if (!look(entry)) return undefined;
    return changed;
  }

  private newEntry(stream: string, last: number, horizonMs: number): Entry {
    const entry: Entry = { stream, events: [], start: 0, bytes: 0, last, horizonMs };
    if (stream.startsWith('match:')) this.matchEntries.set(stream, entry);
    return entry;
  }

  private evictOldestOf(entry: Entry): void {
    const held = entry.events[entry.start]!;
    entry.events[entry.start] = undefined as unknown as Held;
    entry.start++;
    if (entry.start === entry.events.length) {
      entry.events = [];
      entry.start = 0;
    } else if (entry.start >= 1024 && entry.start * 2 >= entry.events.length) {
      entry.events = entry.events.slice(entry.start);
      entry.start = 0;
    }
    entry.bytes -= held.bytes;
    if (held.createdMs > entry.horizonMs) entry.horizonMs = held.createdMs;
    if (held.older) held.older.newer = held.newer;
    else this.oldest = held.newer;
    if (held.newer) held.newer.older = held.older;
    else this.newest = held.older;
    this.totalEvents--;
    this.totalBytes -= held.bytes;
  }
}

/**
 * The held event with the lowest seq created at or after `sinceMs`. Timestamps are not in seq
 * order (a transaction's starts it, commits decide the seq), but an event committed before its
 * arrival here, and every lower seq committed before it: the scan goes back from the newest and
 * stops at the first event that arrived well before `sinceMs`.
 */
function firstCreatedSince(entry: Entry, sinceMs: number): OutboxEvent | undefined {
  let first: OutboxEvent | undefined;
  for (let i = entry.events.length - 1; i >= entry.start; i--) {
    const held = entry.events[i]!;
    if (held.receivedMs < sinceMs - CLOCK_SKEW_MS) break;
    if (held.createdMs >= sinceMs) first = held.event;
  }
  return first;
}
