import type { Socket } from 'node:net';
import { ErrorCodes, type ErrorCode, type ServerMessage } from '@matchcast/protocol';
import { WebSocket } from 'ws';
import type { Identity } from '@matchcast/auth';
import { SubscriberState } from '../delivery/subscriber';
import type { Client } from '../sessions/session';
import { controlText, wsTextFrame, type EventFrames } from '../delivery/frames';
import { RateLimiter } from './rate-limiter';
import type { UserSlot } from './user-slot';
import { batchedWrite, holdWrites } from './write-batch';

/**
 * A WebSocket client. Frames are written straight to the TCP socket: permessage-deflate is
 * off, so ws' own sender never holds queued data that a direct write could overtake, and
 * the same prebuilt buffer goes to every socket.
 */
const CLIENT = Symbol('matchcast.client');
const SETTLED: Promise<void> = Promise.resolve();
/**
 * An unmasked ping frame with no payload, written through the write batch like every other
 * frame: the keep-alive sweep pings every client in one turn, and 10,000 kernel writes in one
 * turn kept the loop from accepting (see write-batch.ts).
 */
const PING_FRAME = Buffer.from([0x89, 0x00]);
type Tagged = WebSocket & { [CLIENT]?: WsClient };

export class WsClient extends SubscriberState implements Client {
  readonly transport = 'ws';
  /** Heartbeat bookkeeping: when the last pong (or any frame) arrived. */
  lastSeenAt = Date.now();
  readonly limiter: RateLimiter;
  private readonly socket: Socket;
  /** The frame being handled and those waiting behind it; a shared settled promise when idle. */
  private queue = SETTLED;
  /** How many frames are in `queue`, handled or waiting. */
  queued = 0;

  constructor(
    readonly id: string,
    public identity: Identity,
    readonly addressGroup: string,
    private readonly ws: WebSocket,
    private readonly maxBufferedBytes: number,
    private readonly onSlow: (client: WsClient) => void,
    messagesPerSecond: number,
    /** Its place under the per-user cap, which a `refresh` of an anonymous connection claims. */
    readonly userSlot?: UserSlot,
  ) {
    super();
    this.socket = (ws as unknown as { _socket: Socket })._socket;
    this.limiter = new RateLimiter(messagesPerSecond);
    (ws as Tagged)[CLIENT] = this;
  }

  /** The client a socket belongs to (the shared listeners are called with `this` = the socket). */
  static of(ws: WebSocket): WsClient {
    return (ws as Tagged)[CLIENT]!;
  }

  /** Runs `work` after every frame received before it; a failure goes to `onError`, and the queue goes on. */
  enqueue(work: () => Promise<void> | void, onError: (client: WsClient, error: unknown) => Promise<void> | void): void {
    this.queued++;
    const next = this.queue
      .then(work)
      .catch((error: unknown) => onError(this, error))
      .then(() => {
        this.queued--;
        if (this.queue === next) this.queue = SETTLED;
      });
    this.queue = next;
  }

  deliver(frames: EventFrames): boolean {
    return this.write(frames.wsFrame());
  }

  send(message: ServerMessage): void {
    this.write(wsTextFrame(controlText(message)));
  }

  private write(frame: Buffer): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    if (this.socket.writableLength > this.maxBufferedBytes) {
      this.onSlow(this);
      this.close('SLOW_CONSUMER');
      return false;
    }
    batchedWrite(this.socket, frame);
    return true;
  }

  keepAlive(deadline: number): void {
    if (this.lastSeenAt < deadline) this.ws.terminate();
    else if (this.ws.readyState === WebSocket.OPEN) batchedWrite(this.socket, PING_FRAME);
  }

  close(code: ErrorCode): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const entry = ErrorCodes[code];
    holdWrites(this.socket); // ws writes the close frame itself: after the frames before it
    this.ws.close(entry.close, code);
    // A slow or dead peer may never finish the closing handshake.
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }
}
