import type { BackoffOptions } from './backoff.js';
import type { Transport } from './transport.js';
import type { EventSourceConstructor } from './transport-sse.js';
import type { DeliveredMessage, ErrorCode } from './wire.js';

/** A handler property checked bivariantly, so that DOM's and `ws`' event types both fit. */
type Listener<E> = { bivarianceHack(event: E): void }['bivarianceHack'] | null;

/** The parts of the WebSocket API the client uses (the browser's, or `ws` in Node). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Listener<unknown>;
  onmessage: Listener<{ data: unknown }>;
  onclose: Listener<{ code: number; reason?: unknown }>;
  onerror: Listener<unknown>;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Positions to continue from, `{stream: seq}` (e.g. from GET /api/matches). */
export type StreamPositions = Record<string, number>;

/**
 * Called when the server cannot resume `stream` (RESUME_TOO_OLD: its history is gone). The
 * app reloads its state (e.g. GET /api/matches) and returns the seqs that state is at; the
 * stream's events are held meanwhile and continue from there with no gap or duplicate.
 */
export type ResetHandler = (stream: string) => StreamPositions | void | Promise<StreamPositions | void>;

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'offline';

/** Codes the client raises itself, beside the server's. */
export type LocalErrorCode = 'TOKEN_PROVIDER_FAILED' | 'TOKEN_UNCHANGED' | 'RESET_FAILED' | 'CONNECTION_LOST';

export interface MatchcastError {
  code: ErrorCode | LocalErrorCode;
  message: string;
  /** The stream the error is about (e.g. which one to reload on RESUME_TOO_OLD). */
  stream?: string;
  /** The channel(s) the error is about (e.g. a refused subscription). */
  channel?: string;
  channels?: string[];
  /** The WebSocket close code or HTTP status, when the error ended a connection. */
  closeCode?: number;
  httpStatus?: number;
  /** True when the client stopped retrying because of it (state `offline`). */
  fatal?: boolean;
  cause?: unknown;
}

export interface MatchcastClientOptions {
  /** `ws(s)://host/ws`; several URLs are tried in turn, one per reconnect. */
  url: string | string[];
  /** Called before every (re)connect and before the current token expires. */
  token?: () => string | Promise<string>;
  /** A WebSocket implementation; defaults to the global `WebSocket` (browsers, Node ≥ 22). */
  WebSocket?: WebSocketConstructor;
  /**
   * Transports to use, in order of preference. Default: `['websocket', 'sse']` when an
   * EventSource is available (global, or the `EventSource` option), else `['websocket']`.
   * `['sse']` uses Server-Sent Events only.
   */
  transports?: Transport[];
  /** Move to SSE after this many consecutive WebSocket attempts failed before `open`. Default 2. */
  fallbackAfter?: number;
  /** The SSE endpoint(s); default: derived from `url` (ws → http, wss → https, `/ws` → `/sse`). */
  sseUrl?: string | string[];
  /** An EventSource implementation; defaults to the global `EventSource` (browsers). */
  EventSource?: EventSourceConstructor;
  /** Reloads state after RESUME_TOO_OLD; see ResetHandler. More can be added with addResetHandler. */
  onReset?: ResetHandler;
  /** Called on every connection state change (also: `on('state', …)`). */
  onState?: (state: ConnectionState) => void;
  /** Called on every error (also: `on('error', …)`). */
  onError?: (error: MatchcastError) => void;
  backoff?: Partial<BackoffOptions>;
  /** Most streams sent in `resume` (the server's WS_MAX_CHANNELS; default 100). */
  maxResume?: number;
  /** Refresh the token this long before it expires (at most half its remaining life). Default 30 s. */
  refreshLeadMs?: number;
  /**
   * An attempt that is not live this long after it started (no answer to the handshake, the
   * request or the subscribe) is abandoned and counts as failed. 0 = off. Default 10 s.
   */
  connectTimeoutMs?: number;
  /** Send a ping this often while idle; a connection silent for twice this long is dropped. 0 = off. Default 25 s. */
  pingIntervalMs?: number;
  /**
   * Most messages a WebSocket connection sends a second, after a burst of twice as many; more
   * wait their turn. Keep it under the server's WS_MESSAGES_PER_SECOND. Default 10 (half the server's default).
   */
  framesPerSecond?: number;
  /**
   * The largest message the server takes (its WS_MAX_PAYLOAD_BYTES; default 4096): a larger
   * subscribe is split by channels, and its `resume` cut, the least recently active streams
   * first (`since` covers them), so that it fits.
   */
  maxFrameBytes?: number;
}

export type EventHandler = (event: DeliveredMessage) => void;

export interface ClientDiagnostics {
  /** Events accepted with seq > last + 1. */
  gaps: number;
  /** Events dropped as already seen. */
  duplicates: number;
  /** Connections opened (first included). */
  connects: number;
  /** RESUME_TOO_OLD resets handled. */
  resets: number;
  /** The transport of the current (or last) connection attempt. */
  transport: 'websocket' | 'sse';
}

export interface ClientEvents {
  [name: string]: unknown[];
  state: [ConnectionState];
  error: [MatchcastError];
  /** Every accepted event, whatever its channel. */
  event: [DeliveredMessage];
  gap: [{ stream: string; expected: number; received: number }];
  reset: [{ stream: string; positions: StreamPositions }];
}
