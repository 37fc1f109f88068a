import type { ErrorCode, OutboxEvent, ServerMessage } from '@matchcast/protocol';
import type { EventFrames } from './frames';

/**
 * A connected client as fan-out sees it, whatever its transport. Fan-out hands it the shared
 * frames of an event; the transport writes the bytes that fit it. A subscriber also knows how
 * to keep itself alive (a ping, a comment line), so nothing above needs to know its transport.
 */
export interface Subscriber {
  readonly id: string;
  readonly channels: Set<string>;
  /**
   * The last event handed to this client: an event routed to several channels the client
   * subscribes to is delivered once, on the most specific one.
   */
  lastEvent: OutboxEvent | undefined;
  /**
   * Streams being replayed for a resume: live events of those streams wait here until the
   * replay is done. Undefined when none is (created on first use, dropped when empty).
   */
  resuming: Map<string, EventFrames[]> | undefined;
  /** Streams where the client has already seen up to a seq this gateway has not delivered yet; undefined when none. */
  seenUpTo: Map<string, number> | undefined;
  /** While a subscribe looks up which streams to replay, every live event for this client waits here. */
  holding: EventFrames[] | undefined;
  /** Writes a shared event frame; returns false when the client was cut off as a slow consumer. */
  deliver(frames: EventFrames): boolean;
  send(message: ServerMessage): void;
  close(code: ErrorCode): void;
  /** Called by the keep-alive sweep: ping (and drop a peer silent since `deadline`), or a comment line. */
  keepAlive(deadline: number): void;
}

/**
 * The delivery bookkeeping every subscriber carries; a transport's client extends it. The
 * resume maps exist only while in use: two empty Maps were ~20 % of the heap an idle
 * connection added (docs/benchmarks.md, "Memory per connection").
 */
export abstract class SubscriberState {
  /** When the connection opened (unix ms): presence snapshots report it. */
  readonly connectedAt = Date.now();
  readonly channels = new Set<string>();
  resuming: Map<string, EventFrames[]> | undefined;
  seenUpTo: Map<string, number> | undefined;
  lastEvent: OutboxEvent | undefined;
  holding: EventFrames[] | undefined;
}
