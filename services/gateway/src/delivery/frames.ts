import { MAX_EVENT_DATA_DEPTH, deliveryChannels, eventFault, eventMessage, nestsDeeperThan, type OutboxEvent, type ServerMessage } from '@matchcast/protocol';
import { WebSocket } from 'ws';

/** ws exports its Sender at runtime; @types/ws does not declare it. */
type FrameOptions = { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean };
const Sender = (WebSocket as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] } }).Sender;

/** Why a committed event is never framed (Sequencer.emit passes over its seq), or undefined when it goes out. */
export interface Undeliverable {
  reason: 'INVALID_EVENT' | 'DATA_TOO_DEEP';
  detail: string;
}

/**
 * An event the live path would have dropped on the bus (eventFault: the same check, for rows a
 * gap fill or catch-up reads from the outbox), or whose data JSON.stringify cannot serialize
 * (it overflows the stack), nor should a client parse.
 */
export function undeliverable(event: OutboxEvent): Undeliverable | undefined {
  const fault = eventFault(event as unknown as Record<string, unknown>);
  if (fault !== undefined) return { reason: 'INVALID_EVENT', detail: `event is one the bus decoder refuses (${fault})` };
  if (nestsDeeperThan(event.data, MAX_EVENT_DATA_DEPTH)) return { reason: 'DATA_TOO_DEEP', detail: `event data nests deeper than ${MAX_EVENT_DATA_DEPTH} levels` };
  return undefined;
}

/**
 * Builds a complete, unmasked WebSocket text frame (header + payload in one buffer) so that
 * a broadcast is serialized and framed once and the same bytes are written to every socket.
 */
export function wsTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const parts = Sender.frame(payload, { fin: true, opcode: 0x01, mask: false, readOnly: true, rsv1: false });
  return Buffer.concat(parts);
}

/**
 * An SSE message's `data:` line and its end. The `id:` line, which comes first, is each
 * connection's own position token (transport/sse.ts), so this part is the same for every client.
 */
export function sseChunk(text: string): Buffer {
  return Buffer.from(`data: ${text}\n\n`);
}

/**
 * One event on one channel, serialized lazily and at most once per transport, however many
 * clients receive it.
 */
export class EventFrames {
  private json: string | undefined;
  private ws: Buffer | undefined;
  private sse: Buffer | undefined;

  constructor(
    readonly event: OutboxEvent,
    readonly channel: string,
  ) {}

  private text(): string {
    return (this.json ??= JSON.stringify(eventMessage(this.event, this.channel)));
  }

  /** The message's JSON length (serialized now if it was not yet): what a frame of it costs, roughly. */
  textLength(): number {
    return this.text().length;
  }

  wsFrame(): Buffer {
    return (this.ws ??= wsTextFrame(this.text()));
  }

  sseFrame(): Buffer {
    return (this.sse ??= sseChunk(this.text()));
  }
}

/** What ReplayFrames keeps at most: events, and bytes of what their entries hold (see ReplayFrames). */
export interface ReplayFramesLimits {
  maxEvents: number;
  maxBytes: number;
}

/**
 * 4096 events, as before the byte bound; 32 MiB covers a storm's replays (5,000 clients resuming
 * the same few dozen events) many times over, and is what the cache can hold after every client left.
 */
export const REPLAY_FRAMES_LIMITS: ReplayFramesLimits = { maxEvents: 4096, maxBytes: 32 * 1024 * 1024 };

/** A replayed event's delivery channels, its frames on those replayed so far, and the bytes counted for it. */
interface ReplayEntry {
  readonly channels: readonly string[];
  readonly frames: EventFrames[];
  bytes: number;
}

/**
 * Frames of replayed events, shared by every client that replays the same event object on the
 * same channel (an event held in memory, or a row of one shared outbox read): a storm of
 * resumes serializes each event once per channel, as live fan-out does, not once per client,
 * and works out each event's delivery channels once, not once per client (building the topic
 * names was the largest part of a replayed event's cost in a reconnect storm).
 *
 * Bounded by events and by bytes; the earliest added go first. An entry keeps its event (a row
 * read from the outbox is kept alive by nothing else) and, per channel framed, the message's text
 * and a frame of it: counted as the text's length once for the event and twice per channel. Bounded
 * by events alone, one anonymous resume of a league with 5,000 tables of 60 clubs (14 KB each) left
 * 115 MB on the heap after the client had gone, for good; tables of a few hundred clubs, gigabytes.
 */
export class ReplayFrames {
  private readonly byEvent = new Map<OutboxEvent, ReplayEntry>();
  private bytes = 0;

  constructor(private readonly limits: ReplayFramesLimits = REPLAY_FRAMES_LIMITS) {}

  /** What it holds now: events, and the bytes counted for them. */
  get size(): { events: number; bytes: number } {
    return { events: this.byEvent.size, bytes: this.bytes };
  }

  /** The frames of the event on the first of its delivery channels (most specific first) that the client holds (and may have it on); undefined when none. */
  forClient(event: OutboxEvent, held: ReadonlySet<string>, admits: (channel: string) => boolean = () => true): EventFrames | undefined {
    const entry = this.entry(event);
    const channel = entry.channels.find((name) => held.has(name) && admits(name));
    return channel === undefined ? undefined : this.framesOf(entry, event, channel);
  }

  private entry(event: OutboxEvent): ReplayEntry {
    let entry = this.byEvent.get(event);
    if (!entry) {
      // One the sequencer skipped live (and counted) is never framed: on no channel.
      this.byEvent.set(event, (entry = { channels: undeliverable(event) ? [] : deliveryChannels(event), frames: [], bytes: 0 }));
      this.trim(entry);
    }
    return entry;
  }

  private framesOf(entry: ReplayEntry, event: OutboxEvent, channel: string): EventFrames {
    let found = entry.frames.find((candidate) => candidate.channel === channel);
    if (!found) {
      entry.frames.push((found = new EventFrames(event, channel)));
      // Serialized now rather than by the client a moment later: its size is what the bound counts.
      const bytes = found.textLength() * (entry.frames.length === 1 ? 3 : 2);
      entry.bytes += bytes;
      this.bytes += bytes;
      this.trim(entry);
    }
    return found;
  }

  /** Drops the earliest added entries until the rest fit; the one in use stays, whatever its size. */
  private trim(keep: ReplayEntry): void {
    for (const [event, entry] of this.byEvent) {
      if (this.byEvent.size <= this.limits.maxEvents && this.bytes <= this.limits.maxBytes) return;
      if (entry === keep) continue;
      this.byEvent.delete(event);
      this.bytes -= entry.bytes;
    }
  }
}

export const controlText = (message: ServerMessage): string => JSON.stringify(message);
