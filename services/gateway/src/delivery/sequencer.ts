import type { OutboxReader } from '@matchcast/db';
import { isRef, type OutboxEvent, type OutboxRef } from '@matchcast/protocol';
import { backoffMs, sleep, throttledWarn, type Logger } from '@matchcast/runtime';

interface Count {
  inc(count?: number): void;
}

/** What the sequencer reports; the gateway's metrics fit it. */
export interface SequencerMetrics {
  received: { inc(labels: { source: string }): void };
  duplicates: Count;
  gapsFilled: Count;
  skipped: Count;
  claimsBeyondHead: Count;
}

/**
 * Turns whatever the brokers hand over — in order or not, duplicated, with gaps, or as
 * references to large rows — into exactly-once, per-stream in-order delivery.
 *
 * For each stream it keeps the last delivered seq: seq ≤ last is a duplicate and dropped;
 * seq > last + 1 is a gap, filled from the outbox before anything later goes out. Seqs are
 * contiguous and handed out under a row lock held to commit, so when seq N has been
 * notified, every seq below N is already committed and readable.
 */
export class Sequencer {
  private readonly last = new Map<string, number>();
  /** Streams with a fill in flight, and the highest seq known to exist for each. */
  private readonly filling = new Map<string, number>();
  private initialized = false;
  private closed = false;
  private readonly warnBeyondHead: ReturnType<typeof throttledWarn>;

  constructor(
    private readonly outbox: OutboxReader,
    private readonly deliver: (event: OutboxEvent) => void,
    private readonly metrics: SequencerMetrics,
    private readonly logger: Logger,
  ) {
    this.warnBeyondHead = throttledWarn(logger);
  }

  get ready(): boolean {
    return this.initialized;
  }

  lastSeq(stream: string): number {
    return this.last.get(stream) ?? 0;
  }

  /**
   * Starts every existing stream at its current head: a gateway delivers what is committed
   * after it starts (clients that want older events resume).
   */
  async init(): Promise<void> {
    for (const [stream, seq] of await this.outbox.streamHeads()) this.last.set(stream, seq);
    this.initialized = true;
  }

  accept(item: OutboxEvent | OutboxRef, source: string): void {
    this.metrics.received.inc({ source });
    if (!this.initialized) return; // init() reads the heads; catch-up after it covers this one
    const last = this.lastSeq(item.stream);
    if (item.seq <= last) {
      this.metrics.duplicates.inc();
      return;
    }
    if (item.seq === last + 1 && !this.filling.has(item.stream) && !isRef(item)) {
      this.emit(item);
      return;
    }
    // A gap, a reference to a large row, or a fill already running: read the outbox.
    this.fill(item.stream, item.seq);
  }

  /** Reads and delivers every event of the streams that moved within the window. */
  async catchUp(windowMs?: number): Promise<number> {
    const heads = await this.outbox.streamHeads(windowMs);
    let behind = 0;
    for (const [stream, head] of heads) {
      if (head > this.lastSeq(stream)) {
        behind++;
        this.fill(stream, head);
      }
    }
    await this.idle();
    return behind;
  }

  /** Resolves when no fill is in flight. */
  async idle(): Promise<void> {
    while (this.filling.size > 0 && !this.closed) await sleep(5);
  }

  /** Stops every fill loop; nothing is delivered afterwards. */
  close(): void {
    this.closed = true;
    this.filling.clear();
  }

  private emit(event: OutboxEvent): void {
    this.last.set(event.stream, event.seq);
    this.deliver(event);
  }

  private fill(stream: string, upto: number): void {
    const running = this.filling.get(stream);
    if (running !== undefined) {
      if (upto > running) this.filling.set(stream, upto);
      return;
    }
    this.filling.set(stream, upto);
    this.metrics.gapsFilled.inc();
    void this.runFill(stream);
  }

  /**
   * Reads the outbox until the stream reaches the highest seq claimed for it. A claim beyond
   * the stream's committed head (stream_counter) cannot be real — NOTIFY comes after commit —
   * so it is cut down to the head: a forged or corrupt seq never wedges a stream.
   */
  private async runFill(stream: string): Promise<void> {
    let attempt = 0;
    while (!this.closed) {
      const upto = this.filling.get(stream) ?? 0;
      const last = this.lastSeq(stream);
      if (last >= upto) break;
      try {
        const events = await this.outbox.readStream(stream, last, upto);
        if (this.closed) return;
        for (const event of events) {
          if (event.seq !== this.lastSeq(stream) + 1) break;
          this.emit(event);
        }
        const reached = this.lastSeq(stream);
        if (reached >= (this.filling.get(stream) ?? 0)) {
          attempt = 0;
          continue;
        }
        const head = await this.outbox.streamHead(stream);
        if (head < (this.filling.get(stream) ?? 0)) {
          this.metrics.claimsBeyondHead.inc();
          this.warnBeyondHead({ stream, claimed: this.filling.get(stream), head }, 'notification claimed a seq beyond the stream head; ignored');
          this.filling.set(stream, head);
          continue;
        }
        // The next seq is not in the outbox: pruned past the history window. Skip ahead
        // rather than stall the stream forever; count it so operators see it.
        const next = events.find((event) => event.seq > reached)?.seq;
        if (next === undefined) throw new Error(`outbox has no rows after ${stream}@${reached} up to ${upto}`);
        this.logger.error({ stream, from: reached + 1, to: next - 1 }, 'outbox rows missing; skipping ahead');
        this.metrics.skipped.inc(next - 1 - reached);
        this.last.set(stream, next - 1);
        attempt = 0;
      } catch (error) {
        this.logger.warn({ err: error, stream, attempt }, 'gap fill failed; retrying');
        await sleep(backoffMs(attempt++, 50, 2000));
      }
    }
    this.filling.delete(stream);
  }
}
