/**
 * The Server-Sent Events fallback (docs/protocol.md, "Server-Sent Events"): where the stream
 * lives, what its URL carries, when the client uses it instead of a WebSocket, and the stream
 * itself as a transport (its `resumed` marker and the errors that end it).
 */
import { decodeMessage } from './decode.js';
import { NOOP, type Connection, type Transport, type TransportHandlers, type TransportRequest } from './transport.js';
import type { StreamPositions } from './types.js';
import { CloseCodes, isEvent, type ClientMessage } from './wire.js';

/** A handler property checked bivariantly, so that DOM's and the `eventsource` package's types both fit. */
type Listener<E> = { bivarianceHack(event: E): void }['bivarianceHack'] | null;

/** The parts of the EventSource API the client uses (the browser's, or e.g. `eventsource` in Node). */
export interface EventSourceLike {
  readonly readyState: number;
  close(): void;
  onopen: Listener<unknown>;
  onmessage: Listener<{ data: unknown }>;
  onerror: Listener<unknown>;
  /** For the server's `ping` events (keep-alive), which `onmessage` does not see. */
  addEventListener(type: 'ping', listener: Listener<unknown>): void;
}

export type EventSourceConstructor = new (url: string) => EventSourceLike;

/**
 * The SSE endpoint for a WebSocket URL: ws → http, wss → https, a path ending in `/ws` ends
 * in `/sse` instead (any other path gets `/sse` appended); query and hash are dropped.
 */
export function sseUrlFor(wsUrl: string, base?: string): string {
  const url = new URL(wsUrl, base ?? (globalThis as { location?: { href: string } }).location?.href);
  if (url.protocol === 'ws:') url.protocol = 'http:';
  else if (url.protocol === 'wss:') url.protocol = 'https:';
  url.pathname = /\/ws$/.test(url.pathname) ? url.pathname.replace(/\/ws$/, '/sse') : `${url.pathname.replace(/\/$/, '')}/sse`;
  url.search = '';
  url.hash = '';
  return url.toString();
}

export interface SseRequest {
  channels: string[];
  resume: StreamPositions;
  since?: string | undefined;
  token?: string | undefined;
}

/**
 * The longest stream URL asked for: the request line a proxy takes by default (nginx's
 * large_client_header_buffers, 8 KB; Node's own limit, 16 KB, is for every header together).
 * A longer one is refused (414, 431) on every attempt, so `resume` is cut to fit, the least
 * recently active streams first (`since` covers them).
 */
export const MAX_SSE_URL_LENGTH = 8000;

/** The stream's URL: the same subscribe as a WebSocket's, as query parameters. */
export function sseRequestUrl(sseUrl: string, request: SseRequest): string {
  const url = new URL(sseUrl, (globalThis as { location?: { href: string } }).location?.href);
  url.searchParams.set('channels', request.channels.join(','));
  if (request.since !== undefined) url.searchParams.set('since', request.since);
  if (request.token !== undefined) url.searchParams.set('token', request.token);
  const resume = { ...request.resume };
  const streams = Object.keys(resume);
  while (streams.length > 0) {
    url.searchParams.set('resume', JSON.stringify(resume));
    if (url.toString().length <= MAX_SSE_URL_LENGTH) break;
    delete resume[streams.pop()!];
  }
  if (streams.length === 0) url.searchParams.delete('resume');
  return url.toString();
}

/**
 * Which transport the next attempt uses. `['websocket', 'sse']` (the default when an
 * EventSource is available) tries WebSocket first and moves to SSE after `threshold`
 * consecutive WebSocket attempts failed before `open` (a proxy that refuses upgrades).
 */
export function nextTransport(transports: readonly Transport[], wsFailures: number, threshold: number): Transport {
  if (!transports.includes('websocket')) return 'sse';
  if (!transports.includes('sse')) return 'websocket';
  return wsFailures >= threshold ? 'sse' : 'websocket';
}

/**
 * An SSE stream ends with an `error` event naming why (then the response ends): the
 * WebSocket close code with the same meaning, so that both transports reconnect alike.
 */
export function closeCodeForStreamEnd(code: string | undefined): number {
  switch (code) {
    case 'SERVER_DRAINING':
      return CloseCodes.SERVER_DRAINING;
    case 'TOKEN_EXPIRED':
      return CloseCodes.TOKEN_EXPIRED;
    case 'SLOW_CONSUMER':
      return CloseCodes.SLOW_CONSUMER;
    case 'FORBIDDEN_CHANNEL':
      return CloseCodes.FORBIDDEN;
    default:
      return CloseCodes.ABNORMAL;
  }
}

/** Error codes that end an SSE stream (the WebSocket closes with a code instead of reporting them). */
export const STREAM_END_CODES = new Set(['SERVER_DRAINING', 'TOKEN_EXPIRED', 'SLOW_CONSUMER']);

/** The HTTP status of a refused stream, when the implementation says it (`eventsource` does; browsers do not). */
export function sseHttpStatusOf(event: unknown): number | undefined {
  const status = (event as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 ? status : undefined;
}

/** EventSource.readyState values. */
const CONNECTING = 0;
const CLOSED = 2;
/** Browser reconnects in a row that do not reach the server before the client takes over (its backoff, its other URLs). */
export const BROWSER_RETRIES = 5;
/**
 * A stream that ends sooner than this after it opened counts as a failed retry too: a server
 * (or proxy) that answers 200 and ends at once, with `retry: 0`, would otherwise have the
 * EventSource reconnect in a tight loop, each open resetting the count.
 */
export const SHORT_STREAM_MS = 1000;

/**
 * One SSE stream: the subscribe (channels, resume, since, token) is its URL. Once open, a
 * dropped stream is left to the EventSource's own reconnect: it sends the last event's id, a
 * position token that resumes every stream of the connection (docs/protocol.md), and the
 * client only shows `reconnecting` meanwhile. The client reconnects by itself, with a fresh
 * URL, when the browser gives up (an HTTP refusal, e.g. 401, or a token from another key),
 * when the stream never opened (the WebSocket may be worth another try), when it ended with
 * TOKEN_EXPIRED (the URL's token is stale), or after BROWSER_RETRIES failed retries.
 */
export class SseTransport implements Connection {
  readonly kind = 'sse';
  /** SSE has no upstream: subscription changes and token refreshes reopen the stream. */
  readonly writable = false;
  readonly queued = 0;
  private source: EventSourceLike | undefined;
  /** The close code the stream's final `error` event named (e.g. 1012 for SERVER_DRAINING). */
  private streamEnd: number | undefined;
  private everOpened = false;
  /** The browser's failed reconnects in a row (streams that did not open, or ended within SHORT_STREAM_MS). */
  private retries = 0;
  private openedAt: number | undefined;
  /** When the stream last said anything (an event, a control message, a keep-alive `ping`). */
  private lastHeard = 0;
  private silenceTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly EventSourceImpl: EventSourceConstructor,
    private readonly handlers: TransportHandlers,
  ) {}

  open(request: TransportRequest): void {
    const subscribe = request.subscribe ?? { channels: [], resume: {}, since: undefined };
    const source = new this.EventSourceImpl(sseRequestUrl(request.url, { ...subscribe, token: request.token }));
    this.source = source;
    this.streamEnd = undefined;
    source.onopen = () => {
      this.everOpened = true;
      this.openedAt = this.lastHeard = Date.now();
      this.streamEnd = undefined;
      this.handlers.open(this);
    };
    source.onmessage = (event) => this.received(event.data);
    source.addEventListener('ping', () => {
      if (this.source === source) this.lastHeard = Date.now();
    });
    source.onerror = (event) => {
      if (this.openedAt !== undefined && Date.now() - this.openedAt >= SHORT_STREAM_MS) this.retries = 0;
      this.openedAt = undefined;
      const browserRetries =
        source.readyState === CONNECTING &&
        sseHttpStatusOf(event) === undefined &&
        this.everOpened &&
        this.streamEnd !== CloseCodes.TOKEN_EXPIRED &&
        this.retries < BROWSER_RETRIES;
      if (browserRetries) {
        this.retries++;
        return this.handlers.interrupted(this);
      }
      if (source.readyState !== CLOSED) source.close();
      this.handlers.close(this, this.streamEnd ?? CloseCodes.ABNORMAL, sseHttpStatusOf(event));
    };
  }

  send(_message: ClientMessage): boolean {
    return false;
  }

  /** Nothing to ask: the server sends `resumed` by itself once a stream's replays are done. */
  markReplayEnd(): void {}

  detach(): void {
    clearInterval(this.silenceTimer);
    this.silenceTimer = undefined;
    this.streamEnd = undefined;
    const source = this.source;
    if (source) {
      source.onopen = NOOP;
      source.onmessage = NOOP;
      source.onerror = NOOP;
    }
  }

  close(): void {
    this.detach();
    this.source?.close();
  }

  private received(data: unknown): void {
    this.lastHeard = Date.now();
    const message = decodeMessage(data);
    if (message === undefined) return;
    if (!isEvent(message)) {
      if (message.type === 'connection_status' && message.keep_alive_ms !== undefined) this.watchSilence(message.keep_alive_ms);
      // Replays run stream after stream: `resumed` says they are all done.
      if (message.type === 'resumed') return this.handlers.replayed(this);
      if (message.type === 'error' && STREAM_END_CODES.has(message.code)) {
        // The stream ends next; it is reported as the close code a WebSocket would have had.
        this.streamEnd = closeCodeForStreamEnd(message.code);
        return;
      }
    }
    this.handlers.message(this, message);
  }

  /**
   * The server says something at least every `keepAliveMs`: a stream silent for two of those is
   * dead however open it looks (a frozen gateway, a connection a network dropped without a FIN;
   * the browser would wait for ever), and ends as a lost WebSocket would, to be reconnected.
   */
  private watchSilence(keepAliveMs: number): void {
    if (!(keepAliveMs > 0) || this.silenceTimer !== undefined) return;
    this.silenceTimer = setInterval(() => {
      if (Date.now() - this.lastHeard < 2 * keepAliveMs) return;
      const source = this.source;
      this.detach();
      source?.close();
      this.handlers.close(this, CloseCodes.ABNORMAL, undefined);
    }, keepAliveMs);
  }
}
