/**
 * What the client needs of a transport (WebSocket, or the Server-Sent Events fallback): open
 * a connection, send a message where the transport can, close it, and tell the client when it
 * opened, what arrived, when a replay is complete and how it ended. What a close code means,
 * and whether and how to reconnect, stays with the client.
 */
import type { StreamPositions } from './types.js';
import type { ClientMessage, ControlMessage, DeliveredMessage } from './wire.js';

export type Transport = 'websocket' | 'sse';

/** What a connection attempt opens: where, with which token, and for SSE the subscribe. */
export interface TransportRequest {
  url: string;
  token: string | undefined;
  /** The subscribe the request itself carries (SSE); a WebSocket subscribes by message once open. */
  subscribe?: { channels: string[]; resume: StreamPositions; since: string | undefined };
}

/** A message from the server, as parsed from the wire. */
export type IncomingMessage = DeliveredMessage | ControlMessage;

/** The client's side of a connection; none is called after the connection is detached. */
export interface TransportHandlers {
  /** The connection opened (WebSocket: the upgrade succeeded; SSE: the stream's 200 arrived). */
  open(connection: Connection): void;
  /** A message arrived (less what the transport handles itself: WebSocket pongs; SSE `resumed` and stream-end errors). */
  message(connection: Connection, message: IncomingMessage): void;
  /** The replays asked for so far are complete (WebSocket: the pong to the ping after a subscribe; SSE: `resumed`). */
  replayed(connection: Connection): void;
  /**
   * The connection dropped and reconnects by itself (SSE: the browser's EventSource, which
   * resumes every stream from its last event id); `open` comes again when it is back.
   */
  interrupted(connection: Connection): void;
  /** The connection ended: the WebSocket close code (or its SSE equivalent), and a refusal's HTTP status when known. */
  close(connection: Connection, code: number, httpStatus: number | undefined): void;
}

/** One connection attempt over one transport. */
export interface Connection {
  readonly kind: Transport;
  /** Starts the connection; throws if the implementation refuses the request outright. */
  open(request: TransportRequest): void;
  /** Whether send() can deliver now (an open WebSocket; never SSE, which has no upstream). */
  readonly writable: boolean;
  /** Sends a message if writable (WebSocket: at the pace of its budget, in order); false if not sent. */
  send(message: ClientMessage): boolean;
  /** Messages accepted by send() that still wait for the budget (always 0 on SSE). */
  readonly queued: number;
  /** After a subscribe with resume or since: arranges for `replayed` once its replay is complete. */
  markReplayEnd(): void;
  /** Goes quiet: no handler is called again, timers stop; the underlying connection is left as it is. */
  detach(): void;
  /** Detaches, then closes the underlying connection. */
  close(): void;
}

export const NOOP = (): void => undefined;
