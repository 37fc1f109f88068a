import type { OutboxReader } from '@matchcast/db';
import { isPrivateStream, isRef, type OutboxEvent, type OutboxRef } from '@matchcast/protocol';
import { backoffMs, sleep, throttledWarn, type Logger } from '@matchcast/runtime';
import { undeliverable } from './frames';
import type { MemoryHistory } from './history';

/** Waits before re-reading a head that is below a claimed seq (see headFor). */
const HEAD_RECHECK_DELAYS_MS = [10, 50, 200];

interface Count {
  inc(count?: number): void;
}

/** What the sequencer reports; the gateway's metrics fit it. */
export interface SequencerMetrics {
  received: { inc(labels: { source: string }): void };
  duplicates: Count;
  gapsFilled: Count;
  skipped: Count;
  undeliverable: Count;
  claimsBeyondHead: Count;
  untracked: Count;
}

/**
 * Private streams (user:<id>, purchase:<id>) are one per user or purchase: a gateway follows
 * only those its own clients subscribe to ("user streams" below means these). Every other
 * stream (match streams, bounded by the number of matches) is followed always.
 */
const isUserStream = isPrivateStream;

/** A user stream whose head is being read: the highest seq claimed for it meanwhile. */
interface Learning {
  claimed: number;
  known: Promise<void>;
  /** Settles `known`: the head is read, or the stream was forgotten meanwhile. */
  settle: () => void;
}

/** Head reads wait for the rest of this event-loop turn and go out as one query per this many streams. */
const HEAD_READ_BATCH = 5000;

/** A head read asked for and not sent yet; every fill asking for that stream meanwhile shares it. */
interface HeadWait {
  promise: Promise<number>;
  resolve: (head: number) => void;
  reject: (error: unknown) => void;
}

/** A fill loop of one stream; replaced (not reused) when the stream is forgotten and tracked again. */
interface Fill {
  upto: number;
}

/**
 * Turns whatever the brokers hand over — in order or not, duplicated, with gaps, or as
 * references to large rows — into exactly-once, per-stream in-order delivery.
 *
 * For each stream it keeps the last delivered seq: seq ≤ last is a duplicate and dropped;
 * seq > last + 1 is a gap, filled from the outbox before anything later goes out. Seqs are
 * contiguous and handed out under a row lock held to commit, so when seq N has been
 * notified, every seq below N is already committed and readable.
 *
 * Match streams are followed from init(). A user stream is followed only while some local
 * client subscribes to it (track/untrack, reference-counted): its position is learnt from
 * stream_counter when the first subscriber comes and forgotten when the last one leaves, so
 * a gateway's memory depends on its clients, not on the number of users. Events of user
 * streams nobody here follows are dropped on arrival.
 */
export class Sequencer {
  private readonly last = new Map<string, number>();
  /** Streams with a fill in flight, and the highest seq known to exist for each. */
  private readonly filling = new Map<string, Fill>();
  /** Tracked user streams and their local subscriber counts. */
  private readonly refs = new Map<string, number>();
  /** Tracked user streams whose head is still being read. */
  private readonly learning = new Map<string, Learning>();
  /** Newly tracked streams whose head read has not gone out yet. */
  private readonly toLearn: string[] = [];
  /** Streams whose committed head a fill waits for, and whether a read of such heads is out (readHead). */
  private readonly headWaits = new Map<string, HeadWait>();
  private readingHeads = false;
  private initialized = false;
  private closed = false;
  private readonly warnBeyondHead: ReturnType<typeof throttledWarn>;
  private readonly warnUndeliverable: ReturnType<typeof throttledWarn>;

  constructor(
    private readonly outbox: OutboxReader,
    private readonly deliver: (event: OutboxEvent) => void,
    private readonly metrics: SequencerMetrics,
    private readonly logger: Logger,
    /** Keeps what is delivered, in order and without holes, for resumes (told what it follows). */
    private readonly history?: Pick<MemoryHistory, 'start' | 'follow' | 'forget' | 'record'>,
  ) {
    this.warnBeyondHead = throttledWarn(logger);
    this.warnUndeliverable = throttledWarn(logger);
  }

  get ready(): boolean {
    return this.initialized;
  }

  lastSeq(stream: string): number {
    return this.last.get(stream) ?? 0;
  }

  /** How many streams this gateway follows, by kind (the tracked-streams gauge). */
  trackedStreams(): { user: number; match: number } {
    const user = this.refs.size;
    // A tracked user stream has a position once its head is known, and only then.
    return { user, match: this.last.size - (user - this.learning.size) };
  }

  /**
   * Starts every existing match stream at its current head: a gateway delivers what is
   * committed after it starts (clients that want older events resume). User streams start
   * when a local client subscribes (track).
   */
  async init(): Promise<void> {
    for (const [stream, seq] of await this.outbox.streamHeads()) this.last.set(stream, seq);
    this.history?.start();
    this.initialized = true;
  }

  /**
   * One more local subscriber of `stream`. The first one of a user stream starts following
   * it: its head is read from the outbox (known() resolves then) and delivery goes on from
   * there. Other streams are always followed; this is a no-op for them.
   */
  track(stream: string): void {
    if (!isUserStream(stream)) return;
    const refs = this.refs.get(stream) ?? 0;
    this.refs.set(stream, refs + 1);
    if (refs > 0) return;
    let settle!: () => void;
    const known = new Promise<void>((resolve) => (settle = resolve));
    this.learning.set(stream, { claimed: 0, known, settle });
    // A subscribe names many user streams at once (an admin's may name thousands): one read for all.
    if (this.toLearn.push(stream) === 1) setImmediate(() => void this.learnHeads(this.toLearn.splice(0)));
  }

  /** One local subscriber of `stream` fewer; the last one's leaving forgets the stream. */
  untrack(stream: string): void {
    const refs = this.refs.get(stream);
    if (refs === undefined) return;
    if (refs > 1) {
      this.refs.set(stream, refs - 1);
      return;
    }
    this.refs.delete(stream);
    this.learning.get(stream)?.settle();
    this.learning.delete(stream);
    this.filling.delete(stream);
    this.last.delete(stream);
    this.history?.forget(stream);
  }

  /**
   * Resolves when the positions of these streams are known (lastSeq is then where live
   * delivery goes on from): at once, except for a user stream whose head is being read.
   */
  async known(streams: Iterable<string>): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const stream of streams) {
      const learning = this.learning.get(stream);
      if (learning) waits.push(learning.known);
    }
    await Promise.all(waits);
  }

  accept(item: OutboxEvent | OutboxRef, source: string): void {
    this.metrics.received.inc({ source });
    if (!this.initialized) return; // init() reads the heads; catch-up after it covers this one
    if (isUserStream(item.stream) && !this.following(item.stream, item.seq)) return;
    const last = this.lastSeq(item.stream);
    if (item.seq <= last) {
      this.metrics.duplicates.inc();
      return;
    }
    if (item.seq === last + 1 && this.last.has(item.stream) && !this.filling.has(item.stream) && !isRef(item)) {
      this.emit(item);
      return;
    }
    // A gap, a reference to a large row, a fill already running, or a stream not seen before
    // (a new match's; or garbage on the bus, which must not make this gateway follow a stream
    // that does not exist): read the outbox.
    this.fill(item.stream, item.seq);
  }

  /** Reads and delivers every event of the followed streams that moved within the window. */
  async catchUp(windowMs?: number): Promise<number> {
    const behind = await this.behind(windowMs);
    await this.recover(behind);
    return behind.size;
  }

  /** The followed streams whose committed head (among those that moved within the window) is past what was delivered here. */
  async behind(windowMs?: number): Promise<Map<string, number>> {
    const heads = await this.outbox.streamHeads(windowMs, [...this.refs.keys()]);
    const behind = new Map<string, number>();
    for (const [stream, head] of heads) {
      if (isUserStream(stream) && !this.following(stream, head)) continue;
      if (head > this.lastSeq(stream)) behind.set(stream, head);
    }
    return behind;
  }

  /**
   * Fills each of these streams up to its head. Done when they reach those heads (or stop being
   * filled: forgotten), not when every fill is: claims on other streams, forged ones in a flood,
   * would hold it (and every catch-up queued behind it) for as long as they kept coming.
   * Streams no longer followed (a user stream whose last subscriber left) or no longer behind are
   * left out. Resolves with the streams it started a fill for (a stream whose fill was running
   * already was on its way).
   */
  async recover(heads: ReadonlyMap<string, number>): Promise<string[]> {
    const behind = new Map<string, number>();
    const started: string[] = [];
    for (const [stream, head] of heads) {
      if (!this.followed(stream) || head <= this.lastSeq(stream)) continue;
      behind.set(stream, head);
      if (!this.filling.has(stream)) started.push(stream);
      this.fill(stream, head);
    }
    while (behind.size > 0 && !this.closed) {
      for (const [stream, head] of behind) {
        if (this.lastSeq(stream) >= head || !this.filling.has(stream)) behind.delete(stream);
      }
      if (behind.size > 0) await sleep(5);
    }
    return started;
  }

  /** Whether delivery of this stream goes on here: always for a match stream; a user stream while tracked and its head known. */
  private followed(stream: string): boolean {
    return !isUserStream(stream) || (this.refs.has(stream) && !this.learning.has(stream));
  }

  /** Resolves when no fill and no head read is in flight. */
  async idle(): Promise<void> {
    while ((this.filling.size > 0 || this.learning.size > 0) && !this.closed) await sleep(5);
  }

  /** Stops every fill loop and head read; nothing is delivered afterwards. */
  close(): void {
    this.closed = true;
    this.filling.clear();
    for (const learning of this.learning.values()) learning.settle();
    this.learning.clear();
  }

  /**
   * Whether a user stream's event (or head) at `seq` goes on to delivery: not when nobody
   * here follows the stream (counted, nothing kept), nor while its head is being read — the
   * seq is remembered then, and read from the outbox once the head is known.
   */
  private following(stream: string, seq: number): boolean {
    const learning = this.learning.get(stream);
    if (learning) {
      if (seq > learning.claimed) learning.claimed = seq;
      return false;
    }
    if (this.refs.has(stream)) return true;
    this.metrics.untracked.inc();
    return false;
  }

  /**
   * Reads the committed heads of newly tracked user streams and starts delivery after them.
   * Events claimed while a read was in flight are read from the outbox if beyond the head
   * (they committed after it), and dropped if not (before the subscribe). Retries until the
   * read succeeds; a stream forgotten meanwhile is left out.
   */
  private async learnHeads(streams: string[]): Promise<void> {
    let batch = [...new Set(streams)].flatMap((stream) => {
      const learning = this.learning.get(stream);
      return learning ? [{ stream, learning }] : [];
    });
    for (let attempt = 0; batch.length > 0 && !this.closed; ) {
      const chunk = batch.slice(0, HEAD_READ_BATCH);
      try {
        const heads = await this.outbox.streamHeadsOf(chunk.map((entry) => entry.stream));
        for (const { stream, learning } of chunk) {
          if (this.learning.get(stream) !== learning) continue; // forgotten (and perhaps tracked again) meanwhile
          const head = heads.get(stream) ?? 0;
          this.learning.delete(stream);
          this.last.set(stream, head);
          this.history?.follow(stream, head);
          if (learning.claimed > head) this.fill(stream, learning.claimed);
          learning.settle();
        }
        batch = batch.slice(chunk.length);
        attempt = 0;
      } catch (error) {
        this.logger.warn({ err: error, streams: chunk.length, attempt }, 'reading stream heads failed; retrying');
        await sleep(backoffMs(attempt++, 50, 2000));
        batch = batch.filter(({ stream, learning }) => this.learning.get(stream) === learning);
      }
    }
  }

  private emit(event: OutboxEvent): void {
    this.last.set(event.stream, event.seq);
    // A committed row no client can be sent (a login with INSERT on a domain table wrote data
    // nested thousands deep: serializing it overflows the stack in the history and for every
    // subscriber, who was closed; or a row the bus decoder drops live, read by a fill or a
    // catch-up: a stream written before 022 with an id no channel names): its seq is passed
    // over, as a pruned row's is, so what follows goes on without a gap or a stall; the history
    // restarts at the next one, so a resume across it reads the outbox (replay skips it too).
    const skipped = undeliverable(event);
    if (skipped) {
      this.metrics.undeliverable.inc();
      this.warnUndeliverable({ stream: event.stream, seq: event.seq, reason: skipped.reason }, `${skipped.detail}; skipped`);
      return;
    }
    this.history?.record(event);
    this.deliver(event);
  }

  private fill(stream: string, upto: number): void {
    const running = this.filling.get(stream);
    if (running !== undefined) {
      if (upto > running.upto) running.upto = upto;
      return;
    }
    const job: Fill = { upto };
    this.filling.set(stream, job);
    this.metrics.gapsFilled.inc();
    void this.runFill(stream, job);
  }

  /**
   * Reads the outbox until the stream reaches the highest seq claimed for it. Each claim is
   * checked against the stream's committed head (stream_counter) before the stream is read:
   * a claim beyond it cannot be real — NOTIFY comes after commit — so it is cut down to the
   * head (a forged or corrupt seq never wedges a stream), and costs no read of its own.
   */
  /**
   * The stream's committed head, read again a few times while it is below `claimed`: a
   * notification can reach this gateway a moment before its transaction is visible to a new
   * snapshot on another connection (seen under load: a real seq 9 against a head read of 8).
   * Only a claim still beyond the head after that is treated as forged.
   */
  private async headFor(stream: string, claimed: number): Promise<number> {
    let head = await this.readHead(stream);
    for (const delayMs of HEAD_RECHECK_DELAYS_MS) {
      if (head >= claimed || this.closed) break;
      await sleep(delayMs);
      head = await this.readHead(stream);
    }
    return head;
  }

  /**
   * A stream's committed head, read together with every other stream's asked for meanwhile:
   * one query per HEAD_READ_BATCH streams, one query out at a time, one read per stream
   * however many claims wait for it. Anything that can publish on the bus can send claims on
   * made-up streams; a flood of them costs a few queries on one connection of the pool, not
   * several each, so client requests on the same pool keep their connections.
   */
  private readHead(stream: string): Promise<number> {
    const waiting = this.headWaits.get(stream);
    if (waiting) return waiting.promise;
    let resolve!: (head: number) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<number>((res, rej) => ((resolve = res), (reject = rej)));
    this.headWaits.set(stream, { promise, resolve, reject });
    if (!this.readingHeads) {
      this.readingHeads = true;
      setImmediate(() => void this.readHeads());
    }
    return promise;
  }

  private async readHeads(): Promise<void> {
    while (this.headWaits.size > 0 && !this.closed) {
      // Taken out before the query: a read asked for while it is out needs a later snapshot.
      const batch: [string, HeadWait][] = [];
      for (const entry of this.headWaits) if (batch.push(entry) === HEAD_READ_BATCH) break;
      for (const [stream] of batch) this.headWaits.delete(stream);
      try {
        const streams = batch.map(([stream]) => stream);
        // A lone stream (the usual case: one reference, one gap) reads just its own row.
        const heads = streams.length === 1 ? new Map([[streams[0]!, await this.outbox.streamHead(streams[0]!)]]) : await this.outbox.streamHeadsOf(streams);
        for (const [stream, wait] of batch) wait.resolve(heads.get(stream) ?? 0);
      } catch (error) {
        for (const [, wait] of batch) wait.reject(error); // each fill retries with its backoff
      }
    }
    this.readingHeads = false;
  }

  private async runFill(stream: string, job: Fill): Promise<void> {
    // The stream may be forgotten (and tracked again, with a new job) while a read is out.
    const current = () => !this.closed && this.filling.get(stream) === job;
    let attempt = 0;
    while (current()) {
      const upto = job.upto;
      const last = this.lastSeq(stream);
      if (last >= upto) break;
      try {
        const head = await this.headFor(stream, upto);
        if (!current()) return;
        if (head < upto) {
          this.metrics.claimsBeyondHead.inc();
          this.warnBeyondHead({ stream, claimed: upto, head }, 'notification claimed a seq beyond the stream head; ignored');
          // A later claim made meanwhile is checked on the next turn, not cut with this one.
          if (job.upto === upto) job.upto = head;
          continue;
        }
        const events = await this.outbox.readStream(stream, last, upto);
        if (!current()) return;
        for (const event of events) {
          if (event.seq !== this.lastSeq(stream) + 1) break;
          this.emit(event);
        }
        const reached = this.lastSeq(stream);
        // Done, or a later seq was claimed while this read was out, or the page ended at its
        // byte bound with every row in order: read on.
        if (reached >= upto || (events.length > 0 && events[events.length - 1]!.seq === reached)) {
          attempt = 0;
          continue;
        }
        // Committed (the head says so) yet not in the outbox: pruned past the history window.
        // Skip ahead rather than stall the stream forever; count it so operators see it.
        const next = events.find((event) => event.seq > reached)?.seq;
        if (next === undefined) throw new Error(`outbox has no rows after ${stream}@${reached} up to ${upto}`);
        this.logger.error({ stream, from: reached + 1, to: next - 1 }, 'outbox rows missing; skipping ahead');
        this.metrics.skipped.inc(next - 1 - reached);
        this.last.set(stream, next - 1);
        this.history?.forget(stream);
        attempt = 0;
      } catch (error) {
        this.logger.warn({ err: error, stream, attempt }, 'gap fill failed; retrying');
        await sleep(backoffMs(attempt++, 50, 2000));
      }
    }
    if (this.filling.get(stream) === job) this.filling.delete(stream);
  }
}
