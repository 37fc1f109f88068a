import type { OutboxReader } from '@matchcast/db';
import type { ErrorCode, OutboxEvent, ServerMessage } from '@matchcast/protocol';
import type { EventFrames } from '../../src/delivery/frames';
import { SubscriberState, type Subscriber } from '../../src/delivery/subscriber';

/** A match event of `stream` with its seq; `data` as the trigger writes it (teams, league, status). */
export function matchEvent(matchId: string, seq: number, data: Record<string, unknown> = {}): OutboxEvent {
  return {
    id: String(1000 + seq),
    stream: `match:${matchId}`,
    seq,
    type: 'match_update',
    match_id: matchId,
    data: { home_team: { id: 'h' }, away_team: { id: 'a' }, league: { id: 'l' }, status: 'live', ...data },
    timestamp: new Date().toISOString(),
  };
}

/** A `notification` event of user `userId`'s stream with its seq. */
export function userEvent(userId: string, seq: number): OutboxEvent {
  return {
    id: String(5000 + seq),
    stream: `user:${userId}`,
    seq,
    type: 'notification',
    match_id: null,
    data: { id: String(seq), unread_count: seq },
    timestamp: new Date().toISOString(),
  };
}

/** An in-memory outbox: committed rows per stream and each stream's head (stream_counter). */
export class FakeOutbox implements OutboxReader {
  readonly rows = new Map<string, OutboxEvent[]>();
  readonly heads = new Map<string, number>();
  reads = 0;
  failing = false;

  commit(...events: OutboxEvent[]): void {
    for (const event of events) {
      const rows = this.rows.get(event.stream) ?? [];
      rows.push(event);
      this.rows.set(event.stream, rows);
      this.heads.set(event.stream, Math.max(this.heads.get(event.stream) ?? 0, event.seq));
    }
  }

  async readStream(stream: string, afterSeq: number, uptoSeq: number): Promise<OutboxEvent[]> {
    this.reads++;
    if (this.failing) throw new Error('database unavailable');
    return (this.rows.get(stream) ?? []).filter((e) => e.seq > afterSeq && e.seq <= uptoSeq).sort((a, b) => a.seq - b.seq);
  }

  /** Calls of streamHead, failed ones included. */
  headChecks = 0;

  async streamHead(stream: string): Promise<number> {
    this.headChecks++;
    if (this.failing) throw new Error('database unavailable');
    return this.heads.get(stream) ?? 0;
  }

  headReads = 0;

  async streamHeadsOf(streams: readonly string[]): Promise<Map<string, number>> {
    this.headReads++;
    if (this.failing) throw new Error('database unavailable');
    return new Map(streams.flatMap((stream) => (this.heads.has(stream) ? [[stream, this.heads.get(stream)!] as const] : [])));
  }

  /**
   * Makes head reads (streamHeadsOf) wait until the test answers each one, with what
   * stream_counter holds then, or with `head` for every stream of the read.
   */
  holdHeadReads(): { streams: readonly string[]; answer: (head?: number) => void }[] {
    const waiting: { streams: readonly string[]; answer: (head?: number) => void }[] = [];
    this.streamHeadsOf = (streams) =>
      new Promise((resolve) =>
        waiting.push({ streams, answer: (head) => resolve(new Map(streams.map((stream) => [stream, head ?? this.heads.get(stream) ?? 0]))) }),
      );
    return waiting;
  }

  /** As the real one: every non-user stream, and the user streams named (the window is not modelled). */
  async streamHeads(_withinMs?: number, userStreams: readonly string[] = []): Promise<Map<string, number>> {
    if (this.failing) throw new Error('database unavailable');
    return new Map([...this.heads].filter(([stream]) => !stream.startsWith('user:') || userStreams.includes(stream)));
  }
}

/** A counter or histogram that remembers what it was told, labels included. */
/** A Fanout fault handler for tests: a delivery that throws fails the test. */
export function rethrow(_client: unknown, error: unknown): never {
  throw error;
}

export class FakeMetric {
  readonly calls: unknown[][] = [];
  inc(...args: unknown[]): void {
    this.calls.push(args);
  }
  observe(...args: unknown[]): void {
    this.calls.push(args);
  }
  set(...args: unknown[]): void {
    this.calls.push(args);
  }
  /** The sum of plain increments (`inc()`, `inc(n)`, `inc(labels)` counts 1). */
  get total(): number {
    return this.calls.reduce<number>((sum, args) => sum + (typeof args[0] === 'number' ? args[0] : 1), 0);
  }
}

export function fakeMetrics<K extends string>(...names: K[]): Record<K, FakeMetric> {
  return Object.fromEntries(names.map((name) => [name, new FakeMetric()])) as Record<K, FakeMetric>;
}

/** A subscriber that records the frames handed to it. */
export class FakeSubscriber extends SubscriberState implements Subscriber {
  readonly received: EventFrames[] = [];
  readonly sent: ServerMessage[] = [];

  constructor(readonly id: string) {
    super();
  }

  deliver(frames: EventFrames): boolean {
    this.received.push(frames);
    return true;
  }
  send(message: ServerMessage): void {
    this.sent.push(message);
  }
  close(_code: ErrorCode): void {}
  keepAlive(): void {}

  /** What arrived, as `<channel> <stream>@<seq>`. */
  get log(): string[] {
    return this.received.map((f) => `${f.channel} ${f.event.stream}@${f.event.seq}`);
  }
}
