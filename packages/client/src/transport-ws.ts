/**
 * The WebSocket transport: the socket and its URL (with `?token=`), the HTTP status of a
 * refused upgrade, keep-alive pings with the silence check, the pong that says a
 * subscribe's replay is complete, and the pace of what it sends.
 */
import { decodeMessage } from './decode.js';
import { NOOP, type Connection, type TransportHandlers, type TransportRequest } from './transport.js';
import type { WebSocketConstructor, WebSocketLike } from './types.js';
import { CloseCodes, isEvent, type ClientMessage } from './wire.js';

const OPEN = 1;

/**
 * Frames sent a second, after a burst of twice as many: half the gateway's default
 * WS_MESSAGES_PER_SECOND (20, burst 2×). The server refuses a frame past its rate with
 * RATE_LIMITED: a subscribe so refused is named and asked for again later (an unsubscribe or a
 * ping is applied past the rate all the same; older gateways lost them, and named no refused
 * subscribe's channels), and a flood past it closes the connection, so frames past this budget
 * wait their turn here, in order.
 */
export const FRAMES_PER_SECOND = 10;

export class WebSocketTransport implements Connection {
  readonly kind = 'websocket';
  private socket: WebSocketLike | undefined;
  private detached = false;
  private httpStatus: number | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private lastHeard = 0;
  /** Pings sent and pongs received on this connection (the server answers in order). */
  private pings = 0;
  private pongs = 0;
  /** The pong that says a resume's replay is complete (0: none awaited). */
  private catchUpPong = 0;
  /** Frames waiting for the budget, oldest first; the budget's tokens and when they were counted. */
  private readonly waiting: string[] = [];
  private tokens: number;
  private countedAt = Date.now();
  private paceTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * `pingIntervalMs`: ping this often; a connection that heard nothing for two intervals is dropped (0 = off).
   * `framesPerSecond`: the pace of sending (see FRAMES_PER_SECOND).
   */
  constructor(
    private readonly WebSocketImpl: WebSocketConstructor,
    private readonly pingIntervalMs: number,
    private readonly handlers: TransportHandlers,
    private readonly framesPerSecond = FRAMES_PER_SECOND,
  ) {
    this.tokens = 2 * framesPerSecond;
  }

  open(request: TransportRequest): void {
    const socket = new this.WebSocketImpl(withToken(request.url, request.token));
    this.socket = socket;
    socket.onopen = () => {
      this.lastHeard = Date.now();
      this.handlers.open(this);
      if (!this.detached) this.startPing(socket);
    };
    socket.onmessage = (event) => this.received(event.data);
    socket.onerror = (event) => (this.httpStatus = httpStatusOf(event) ?? this.httpStatus);
    socket.onclose = (event) => this.handlers.close(this, event.code, this.httpStatus);
  }

  get writable(): boolean {
    return !this.detached && this.socket !== undefined && this.socket.readyState === OPEN;
  }

  /** Sends at once within the budget; past it the frame waits (sent in order as the budget allows). */
  send(message: ClientMessage): boolean {
    if (!this.writable) return false;
    this.waiting.push(JSON.stringify(message));
    this.sendWaiting();
    return true;
  }

  get queued(): number {
    return this.waiting.length;
  }

  private sendWaiting(): void {
    const now = Date.now();
    this.tokens = Math.min(2 * this.framesPerSecond, this.tokens + ((now - this.countedAt) * this.framesPerSecond) / 1000);
    this.countedAt = now;
    while (this.waiting.length > 0 && this.tokens >= 1 && this.writable) {
      this.tokens--;
      this.socket!.send(this.waiting.shift()!);
    }
    if (this.waiting.length === 0 || this.paceTimer !== undefined || !this.writable) return;
    this.paceTimer = setTimeout(() => {
      this.paceTimer = undefined;
      this.sendWaiting();
    }, Math.ceil(((1 - this.tokens) * 1000) / this.framesPerSecond));
  }

  /**
   * The server handles a connection's messages in order and ends a subscribe's replays
   * before it reads the next one: the pong to this ping says the replay is complete.
   */
  markReplayEnd(): void {
    this.ping();
    this.catchUpPong = this.pings;
  }

  detach(): void {
    this.detached = true;
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    this.pings = 0;
    this.pongs = 0;
    this.catchUpPong = 0;
    clearTimeout(this.paceTimer);
    this.paceTimer = undefined;
    this.waiting.length = 0;
    const socket = this.socket;
    if (socket) {
      socket.onopen = NOOP;
      socket.onmessage = NOOP;
      socket.onerror = NOOP;
      socket.onclose = NOOP;
    }
  }

  close(): void {
    this.detach();
    try {
      this.socket?.close(CloseCodes.NORMAL);
    } catch {
      // already closing
    }
  }

  private received(data: unknown): void {
    this.lastHeard = Date.now();
    const message = decodeMessage(data);
    if (message === undefined) return;
    if (!isEvent(message) && message.type === 'pong') {
      this.pongs++;
      if (this.catchUpPong > 0 && this.pongs >= this.catchUpPong) {
        this.catchUpPong = 0;
        this.handlers.replayed(this);
      }
      return;
    }
    this.handlers.message(this, message);
  }

  /** Pings while connected; a connection that heard nothing for two intervals is dropped. */
  private startPing(socket: WebSocketLike): void {
    if (this.pingIntervalMs <= 0) return;
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastHeard >= 2 * this.pingIntervalMs) {
        this.handlers.close(this, CloseCodes.ABNORMAL, undefined);
        try {
          socket.close();
        } catch {
          // it is gone either way
        }
      } else {
        this.ping();
      }
    }, this.pingIntervalMs);
  }

  private ping(): void {
    if (this.send({ action: 'ping' })) this.pings++;
  }
}

/** Adds the token as `?token=` (browsers cannot set headers on a WebSocket upgrade). */
export function withToken(url: string, token: string | undefined): string {
  if (token === undefined) return url;
  // A relative URL (browsers accept '/ws') resolves against the page.
  const base = (globalThis as { location?: { href: string } }).location?.href;
  const parsed = new URL(url, base);
  parsed.searchParams.set('token', token);
  return parsed.toString();
}

/** The HTTP status of a refused upgrade, when the implementation says it (`ws` does; browsers do not). */
export function httpStatusOf(event: unknown): number | undefined {
  const e = event as { message?: unknown; error?: { message?: unknown } } | null;
  const text = String(e?.message ?? e?.error?.message ?? '');
  const match = /Unexpected server response: (\d{3})/.exec(text);
  return match ? Number(match[1]) : undefined;
}
