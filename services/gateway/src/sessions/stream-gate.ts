import type { OutboxEvent } from '@matchcast/protocol';

/**
 * Holds back a stream's events while one read tells what deciding their audience needs, and
 * the stream's later events behind them, so its order is kept; other streams pass straight
 * through. Used for the own events (announcements, a league's table) of a team or league this
 * gateway has not read: a client subscribed to it before it existed, granted as public.
 *
 * A held event is not delivered yet: deliveredSeq says so, and the positions resumes and SSE
 * tokens start from must use it (else a resume meanwhile would replay the held event and get
 * it again when it goes out).
 */
export class StreamGate {
  private readonly waiting = new Map<string, OutboxEvent[]>();

  constructor(
    /** Whether this event needs the read first (not asked for a stream already waiting). */
    private readonly needsRead: (event: OutboxEvent) => boolean,
    /** The read; once it settles the stream's held events go on, in order. */
    private readonly read: (stream: string) => Promise<void>,
    private readonly deliver: (event: OutboxEvent) => void,
    /**
     * The longest a stream waits: a read without an answer (a frozen database, a link that
     * drops everything) lets its events go on then, as a failed one does; `gaveUp` is told.
     */
    private readonly limit: { maxWaitMs: number; gaveUp(stream: string): void } = { maxWaitMs: Infinity, gaveUp: () => undefined },
  ) {}

  /** The seq delivered on a stream that waits (before its first held event), else undefined. */
  deliveredSeq(stream: string): number | undefined {
    const first = this.waiting.get(stream)?.[0];
    return first === undefined ? undefined : first.seq - 1;
  }

  push(event: OutboxEvent): void {
    const held = this.waiting.get(event.stream);
    if (held) return void held.push(event);
    if (!this.needsRead(event)) return this.deliver(event);
    const queue = [event];
    this.waiting.set(event.stream, queue);
    let timer: NodeJS.Timeout | undefined;
    const release = () => {
      clearTimeout(timer);
      if (this.waiting.get(event.stream) !== queue) return; // let go already (the read was given up)
      this.waiting.delete(event.stream);
      for (const waited of queue) this.deliver(waited);
    };
    if (Number.isFinite(this.limit.maxWaitMs)) {
      timer = setTimeout(() => (this.limit.gaveUp(event.stream), release()), this.limit.maxWaitMs);
      timer.unref();
    }
    void this.read(event.stream).finally(release);
  }
}
