import { eventMessage, type OutboxEvent, type ServerMessage } from '@matchcast/protocol';
import { WebSocket } from 'ws';

/** ws exports its Sender at runtime; @types/ws does not declare it. */
type FrameOptions = { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean };
const Sender = (WebSocket as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] } }).Sender;

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

  wsFrame(): Buffer {
    return (this.ws ??= wsTextFrame(this.text()));
  }

  sseFrame(): Buffer {
    return (this.sse ??= sseChunk(this.text()));
  }
}

export const controlText = (message: ServerMessage): string => JSON.stringify(message);
