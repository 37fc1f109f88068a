import { DEFAULT_BACKOFF, closeAction, reconnectDelay, type BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { Positions } from './positions.js';
import { RefreshTimer, tokenExpiryMs } from './token.js';
import type { Connection, IncomingMessage, Transport, TransportHandlers } from './transport.js';
import { SseTransport, nextTransport, sseUrlFor, type EventSourceConstructor } from './transport-sse.js';
import { WebSocketTransport } from './transport-ws.js';
import type {
  ClientDiagnostics,
  ClientEvents,
  ConnectionState,
  EventHandler,
  MatchcastClientOptions,
  MatchcastError,
  ResetHandler,
  StreamPositions,
  WebSocketConstructor,
} from './types.js';
import { CHANNEL_PATTERN, CloseCodes, isEvent, type ClientMessage, type ControlMessage, type DeliveredMessage, type ErrorCode } from './wire.js';

/**
 * A connection must have been live this long for its end to reset the backoff: a server that
 * accepts (even subscribes) and then drops or drains every connection gets exponential backoff.
 */
const STABLE_LIVE_MS = 5000;
/**
 * The longest a stream's events are held for the reset handlers (a snapshot fetch that never
 * answers would otherwise freeze the stream for good while its events pile up): then the reset
 * fails (RESET_FAILED) and the stream starts again at the held events.
 */
export const RESET_TIMEOUT_MS = 30_000;
/** Channel changes on SSE are gathered this long into one reopen of the stream. */
const REOPEN_DEBOUNCE_MS = 50;
/** Errors that refuse a whole subscribe message (it is all-or-nothing) for what it asks. */
const SUBSCRIBE_REFUSALS = new Set<string>(['INVALID_CHANNEL', 'UNKNOWN_CHANNEL', 'FORBIDDEN_CHANNEL', 'TOO_MANY_CHANNELS', 'BAD_RESUME']);
/**
 * A subscribe refused for now (RATE_LIMITED: the connection's budget for subscribes that read,
 * one a second past a burst) is sent again after this, plus as much again at random.
 */
const SUBSCRIBE_RETRY_MS = 1000;

/**
 * A matchcast client over WebSocket, or Server-Sent Events where WebSockets cannot connect: subscriptions with per-channel handlers, exactly-once and
 * in-order delivery per stream, reconnects with resume and `since`, token refresh, and
 * RESUME_TOO_OLD resets through the app's reset handlers.
 */
export class MatchcastClient {
  private readonly emitter = new Emitter<ClientEvents>();
  private readonly positions = new Positions();
  private readonly handlers = new Map<string, Set<EventHandler>>();
  private readonly resetHandlers = new Set<ResetHandler>();
  /** Events of streams being reset, held until the app's reset handlers answer. */
  private readonly held = new Map<string, DeliveredMessage[]>();
  /** Unsubscribe requests sent and not yet answered, per channel. */
  private readonly unsubscribing = new Map<string, number>();
  /**
   * Channel changes made while connected, sent together once the current task is done: one
   * frame each way, however many the app made (the server limits frames per second).
   */
  private changes: { subscribe: Set<string>; unsubscribe: Set<string> } | undefined;
  private readonly urls: string[];
  private readonly WebSocketImpl: WebSocketConstructor | undefined;
  private readonly EventSourceImpl: EventSourceConstructor | undefined;
  private readonly transports: Transport[];
  private readonly fallbackAfter: number;
  private readonly sseUrls: string[];
  private readonly backoff: BackoffOptions;
  private readonly maxResume: number;
  private readonly pingIntervalMs: number;
  private readonly connectTimeoutMs: number;
  private readonly framesPerSecond: number | undefined;
  private readonly maxFrameBytes: number;
  private readonly refreshTimer: RefreshTimer;

  /** What the transports report back; stale connections are ignored. */
  private readonly events: TransportHandlers = {
    open: (connection) => this.opened(connection),
    message: (connection, message) => this.received(connection, message),
    replayed: (connection) => {
      if (connection === this.connection) this.positions.releaseTimes();
    },
    interrupted: (connection) => this.interrupted(connection),
    close: (connection, code, httpStatus) => this.lost(connection, code, httpStatus),
  };

  /** The current connection (WebSocket or SSE stream); `sseIdle`: on SSE with no channel (no stream needed). */
  private connection: Connection | undefined;
  private sseIdle = false;
  /** The transport of the current (or last) attempt, and whether it reached `open`. */
  private transport: Transport = 'websocket';
  private connOpened = false;
  /** Consecutive WebSocket attempts that failed before `open`. */
  private wsFailures = 0;
  private reopenTimer: ReturnType<typeof setTimeout> | undefined;
  /** Sends the gathered channel changes once the frames before them have gone (see flushChanges). */
  private changesTimer: ReturnType<typeof setTimeout> | undefined;
  /** Abandons an attempt that is not live within connectTimeoutMs. */
  private liveTimer: ReturnType<typeof setTimeout> | undefined;
  /** The token of the current (or last) connection; `refreshing` the one sent in a refresh. */
  private token: string | undefined;
  private refreshing: string | undefined;
  /** A token already fetched for the next attempt (after a 401, the provider was asked once more). */
  private nextToken: string | undefined;
  /** Subscribe messages sent and not yet answered, in order (the server answers in order). */
  private pendingSubscribes: { channels: string[]; initial: boolean }[] = [];
  private currentState: ConnectionState = 'offline';
  private running = false;
  private closed = false;
  private everLive = false;
  private attempt = 0;
  /** When the client last became live (undefined: not live since the last reconnect). */
  private liveSince: number | undefined;
  /** The one quick reconnect (drain or lost jitter) since the client was stably live is spent. */
  private quickSpent = false;
  private urlIndex = 0;
  /** Bumped whenever an attempt starts or stops, so that stale async steps give up. */
  private generation = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private connects = 0;
  private resets = 0;

  constructor(private readonly options: MatchcastClientOptions) {
    this.urls = Array.isArray(options.url) ? [...options.url] : [options.url];
    if (this.urls.length === 0) throw new TypeError('MatchcastClient: `url` is required');
    this.WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    this.EventSourceImpl = options.EventSource ?? (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
    this.transports = options.transports ? [...options.transports] : this.EventSourceImpl ? ['websocket', 'sse'] : ['websocket'];
    if (this.transports.length === 0) throw new TypeError('MatchcastClient: `transports` is empty');
    if (this.transports.includes('websocket') && !this.WebSocketImpl) {
      throw new TypeError('MatchcastClient: no global WebSocket; pass one as `WebSocket` (e.g. the `ws` package in Node)');
    }
    if (this.transports.includes('sse') && !this.EventSourceImpl) {
      throw new TypeError('MatchcastClient: no global EventSource; pass one as `EventSource` (e.g. the `eventsource` package in Node)');
    }
    this.fallbackAfter = options.fallbackAfter ?? 2;
    const sseUrls = options.sseUrl === undefined ? this.urls.map((url) => sseUrlFor(url)) : Array.isArray(options.sseUrl) ? [...options.sseUrl] : [options.sseUrl];
    this.sseUrls = sseUrls.length > 0 ? sseUrls : this.urls.map((url) => sseUrlFor(url));
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.maxResume = options.maxResume ?? 100;
    this.pingIntervalMs = options.pingIntervalMs ?? 25_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.framesPerSecond = options.framesPerSecond;
    this.maxFrameBytes = options.maxFrameBytes ?? 4096;
    if (this.framesPerSecond !== undefined && !(this.framesPerSecond > 0)) throw new TypeError('MatchcastClient: `framesPerSecond` must be above 0');
    this.refreshTimer = new RefreshTimer(options.refreshLeadMs ?? 30_000, () => void this.refresh());
    if (options.onReset) this.resetHandlers.add(options.onReset);
    if (options.onState) this.on('state', options.onState);
    if (options.onError) this.on('error', options.onError);
  }

  /** The connection state: connecting, live, reconnecting or offline. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** The channels subscribed (those with at least one handler). */
  get channels(): string[] {
    return [...this.handlers.keys()];
  }

  get diagnostics(): ClientDiagnostics {
    return {
      gaps: this.positions.gaps,
      duplicates: this.positions.duplicates,
      connects: this.connects,
      resets: this.resets,
      transport: this.transport,
    };
  }

  on<K extends keyof ClientEvents & string>(name: K, listener: (...args: ClientEvents[K]) => void): () => void {
    return this.emitter.on(name, listener);
  }

  /** Adds a RESUME_TOO_OLD handler (see ResetHandler); returns the function that removes it. */
  addResetHandler(handler: ResetHandler): () => void {
    this.resetHandlers.add(handler);
    return () => void this.resetHandlers.delete(handler);
  }

  /** The last seq received (or seeded) for a stream. */
  position(stream: string): number | undefined {
    return this.positions.get(stream);
  }

  /**
   * Seeds positions from a state snapshot (e.g. GET /api/matches' `stream` and `seq`): events
   * at or below them are not delivered again, and reconnects resume from them. Never moves a
   * stream backwards.
   */
  seed(positions: StreamPositions): void {
    this.positions.seed(positions);
  }

  /** Starts connecting (and keeps reconnecting until close() or a fatal error). */
  connect(): this {
    if (this.closed) throw new Error('MatchcastClient: connect() after close()');
    if (this.running) return this;
    this.running = true;
    this.everLive = false;
    this.attempt = 0;
    this.liveSince = undefined;
    this.quickSpent = false;
    this.setState('connecting');
    void this.open();
    return this;
  }

  /**
   * Subscribes `handler` to `channel`'s events (each event arrives on the most specific channel
   * the connection has for it). Returns the function that removes this handler.
   */
  subscribe(channel: string, handler: EventHandler): () => void {
    if (!CHANNEL_PATTERN.test(channel)) throw new TypeError(`MatchcastClient: invalid channel "${channel}"`);
    let set = this.handlers.get(channel);
    if (!set) {
      this.handlers.set(channel, (set = new Set()));
      if (this.isOpen()) this.queueChanges().subscribe.add(channel);
      else if (this.onSse()) this.scheduleReopen();
    }
    set.add(handler);
    return () => this.unsubscribe(channel, handler);
  }

  /** Removes one handler, or every handler of the channel; the last one gone unsubscribes. */
  unsubscribe(channel: string, handler?: EventHandler): void {
    const set = this.handlers.get(channel);
    if (!set) return;
    if (handler) set.delete(handler);
    else set.clear();
    if (set.size > 0) return;
    this.handlers.delete(channel);
    this.positions.forgetChannel(channel);
    if (this.isOpen()) {
      const changes = this.queueChanges();
      // Not sent yet: the server never heard of it. Else it is unsubscribed (and, if subscribed again, then subscribed).
      if (!changes.subscribe.delete(channel)) changes.unsubscribe.add(channel);
    } else if (this.onSse()) {
      this.scheduleReopen();
    }
  }

  /** The channel changes to send at the end of the current task (see `changes`). */
  private queueChanges(): { subscribe: Set<string>; unsubscribe: Set<string> } {
    if (this.changes) return this.changes;
    const changes = (this.changes = { subscribe: new Set<string>(), unsubscribe: new Set<string>() });
    queueMicrotask(() => this.flushChanges(changes));
    return changes;
  }

  /**
   * Sends the gathered changes; while frames sent before still wait for the connection's
   * budget (the app changing channels task after task), they go on gathering instead, so that
   * what waits stays a few frames however many changes the app makes.
   */
  private flushChanges(changes: { subscribe: Set<string>; unsubscribe: Set<string> }): void {
    if (this.changes !== changes) return; // the connection ended: the next one subscribes what is left
    if ((this.connection?.queued ?? 0) > 0) {
      this.changesTimer = setTimeout(() => this.flushChanges(changes), 50);
      return;
    }
    this.changesTimer = undefined;
    this.changes = undefined;
    if (changes.unsubscribe.size > 0) this.sendUnsubscribe([...changes.unsubscribe]);
    if (changes.subscribe.size > 0) this.sendSubscribe([...changes.subscribe], false);
  }

  private sendUnsubscribe(channels: string[]): void {
    const message: ClientMessage = { action: 'unsubscribe', channels };
    if (channels.length > 1 && !this.fits(message)) {
      const half = Math.ceil(channels.length / 2);
      this.sendUnsubscribe(channels.slice(0, half));
      this.sendUnsubscribe(channels.slice(half));
      return;
    }
    if (!this.send(message)) return;
    for (const channel of channels) this.unsubscribing.set(channel, (this.unsubscribing.get(channel) ?? 0) + 1);
  }

  /**
   * Whether a message is within the server's frame size (maxFrameBytes): a larger one ends the
   * connection (1009), and a reconnect subscription too large would end every attempt.
   */
  private fits(message: ClientMessage): boolean {
    return new TextEncoder().encode(JSON.stringify(message)).length <= this.maxFrameBytes;
  }

  /** Stops everything: the connection, timers and retries. Safe to call more than once. */
  close(): void {
    this.closed = true;
    this.stop();
    this.held.clear();
  }

  // ---- connection lifecycle ----

  private async open(): Promise<void> {
    const generation = ++this.generation;
    this.armDeadline();
    let token = this.nextToken;
    this.nextToken = undefined;
    if (token === undefined && this.options.token) {
      try {
        token = await this.options.token();
      } catch (cause) {
        if (generation !== this.generation || !this.running) return;
        this.report({ code: 'TOKEN_PROVIDER_FAILED', message: 'the token provider failed; retrying', cause });
        return this.retry('retry');
      }
      if (generation !== this.generation || !this.running) return;
    }
    this.connOpened = false;
    this.transport = nextTransport(this.transports, this.wsFailures, this.fallbackAfter);
    if (this.transport === 'sse') return this.openSse(token);
    const connection = new WebSocketTransport(this.WebSocketImpl!, this.pingIntervalMs, this.events, this.framesPerSecond);
    try {
      connection.open({ url: this.urls[this.urlIndex % this.urls.length]!, token });
    } catch (cause) {
      return this.fail({ code: 'BAD_REQUEST', message: `cannot open a WebSocket: ${String(cause)}`, cause });
    }
    this.connection = connection;
    this.token = token;
  }

  /**
   * Opens the SSE stream, whose URL carries the subscribe (channels, resume, since, token).
   * A dropped stream is resumed by the EventSource itself (its Last-Event-ID); when that
   * cannot work, the client reconnects with a fresh URL (see SseTransport).
   */
  private openSse(token: string | undefined): void {
    this.token = token;
    const channels = this.channels;
    if (channels.length === 0) {
      // The server wants at least one channel: nothing to stream until one is subscribed.
      this.sseIdle = true;
      return this.becameLive();
    }
    const resume = this.positions.resume(new Set(channels), this.maxResume);
    const since = this.positions.since;
    const index = this.urlIndex % this.sseUrls.length;
    const connection = new SseTransport(this.EventSourceImpl!, this.events);
    try {
      connection.open({ url: this.sseUrls[index]!, token, subscribe: { channels, resume, since } });
    } catch (cause) {
      return this.fail({ code: 'BAD_REQUEST', message: `cannot open an EventSource: ${String(cause)}`, cause });
    }
    this.connection = connection;
    this.pendingSubscribes.push({ channels, initial: true });
    if (Object.keys(resume).length > 0 || since !== undefined || this.positions.isHolding) {
      // Replays run stream after stream: `since` may move only once the server says they are
      // all done (`resumed`; SSE has no ping/pong to mark it as the WebSocket transport does).
      this.positions.holdTimes();
    }
  }

  /**
   * A token provider, handshake, SSE request or subscribe that is never answered would leave
   * the client `connecting` for ever: an attempt not live within connectTimeoutMs is abandoned
   * as a failed one. Cleared when the server answers the subscribe, or the attempt ends.
   */
  private armDeadline(): void {
    this.clearDeadline();
    if (this.connectTimeoutMs <= 0) return;
    this.liveTimer = setTimeout(() => {
      this.liveTimer = undefined;
      if (this.connection) return this.abandon(this.connection, CloseCodes.ABNORMAL);
      if (!this.running) return;
      // Still waiting for the token provider: that answer, if it ever comes, is ignored.
      this.generation++;
      this.report({ code: 'TOKEN_PROVIDER_FAILED', message: `the token provider did not answer within ${this.connectTimeoutMs} ms; retrying` });
      this.retry('retry');
    }, this.connectTimeoutMs);
  }

  private clearDeadline(): void {
    clearTimeout(this.liveTimer);
    this.liveTimer = undefined;
  }

  /** Ends a connection from this side and reconnects as if the server had closed it with `code`. */
  private abandon(connection: Connection, code: number): void {
    connection.close();
    this.lost(connection, code, undefined);
  }

  private onSse(): boolean {
    return this.running && this.transport === 'sse' && (this.connection !== undefined || this.sseIdle);
  }

  /** SSE cannot change a subscription in place: channel changes reopen the stream (debounced). */
  private scheduleReopen(): void {
    if (this.reopenTimer !== undefined) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      this.reopen();
    }, REOPEN_DEBOUNCE_MS);
  }

  /**
   * A planned reopen of the SSE stream (channels changed, token refreshed), with the current
   * positions as resume: doubles are dropped by seq, the gap is covered by resume and since.
   * The state stays `live` unless the new stream fails.
   */
  private reopen(): void {
    if (!this.onSse()) return;
    const connection = this.connection;
    this.detach();
    connection?.close();
    void this.open();
  }

  private opened(connection: Connection): void {
    if (connection !== this.connection) return;
    this.connOpened = true;
    if (connection.kind === 'websocket') this.wsFailures = 0;
    this.connects++;
    this.refreshTimer.schedule(this.token === undefined ? undefined : tokenExpiryMs(this.token));
    // An SSE stream's URL was its subscribe; a WebSocket subscribes now.
    if (connection.kind === 'sse') return;
    const channels = this.channels;
    if (channels.length > 0) this.sendSubscribe(channels, true);
    else this.becameLive();
  }

  /**
   * SSE only: the stream dropped and the EventSource reconnects by itself, resuming every
   * stream from its last event id (a position token). The server answers as on a new stream:
   * `subscribed`, the replays, `resumed`.
   */
  private interrupted(connection: Connection): void {
    if (connection !== this.connection) return;
    this.setState(this.everLive ? 'reconnecting' : 'connecting');
    this.pendingSubscribes = [{ channels: this.channels, initial: true }];
    this.positions.holdTimes();
    // Interrupted again while the browser reconnects: the first deadline holds.
    if (this.liveTimer === undefined) this.armDeadline();
  }

  private lost(connection: Connection, closeCode: number, httpStatus: number | undefined): void {
    if (connection !== this.connection) return;
    if (!this.connOpened) {
      if (connection.kind === 'websocket') this.wsFailures++;
      // An SSE stream that could not open either: the evidence against WebSocket is stale.
      else this.wsFailures = 0;
    }
    this.detach();
    if (!this.running) return;
    const action = closeAction(closeCode, httpStatus, this.connOpened);
    if (action === 'fatal') {
      const code: ErrorCode = httpStatus === 403 ? 'ORIGIN_NOT_ALLOWED' : 'FORBIDDEN_CHANNEL';
      return this.fail({ code, message: 'the server refused the connection (forbidden)', closeCode, ...(httpStatus ? { httpStatus } : {}) });
    }
    if (action === 'auth') return void this.retryWithNewToken(closeCode, httpStatus);
    this.retry(action);
  }

  /** 401 / 4001: retries only if the token provider now gives a different token. */
  private async retryWithNewToken(closeCode: number, httpStatus: number | undefined): Promise<void> {
    const generation = ++this.generation;
    // A provider that never answers is abandoned as in open(), not waited for for ever.
    this.armDeadline();
    this.setState(this.everLive ? 'reconnecting' : 'connecting');
    const code: ErrorCode = closeCode === CloseCodes.TOKEN_EXPIRED ? 'TOKEN_EXPIRED' : 'UNAUTHORIZED';
    const about = { closeCode, ...(httpStatus ? { httpStatus } : {}) };
    if (!this.options.token) return this.fail({ code, message: 'the server refused the connection and no token provider is set', ...about });
    let fresh: string;
    try {
      fresh = await this.options.token();
    } catch (cause) {
      if (generation !== this.generation || !this.running) return;
      return this.fail({ code: 'TOKEN_PROVIDER_FAILED', message: `the token was refused (${code}) and the token provider failed`, cause, ...about });
    }
    if (generation !== this.generation || !this.running) return;
    if (fresh === this.token) return this.fail({ code, message: `the token was refused (${code}) and the token provider gave the same token`, ...about });
    this.nextToken = fresh;
    this.retry('retry');
  }

  private retry(action: 'drain' | 'lost' | 'retry'): void {
    this.clearDeadline();
    this.setState(this.everLive ? 'reconnecting' : 'connecting');
    if (this.liveSince !== undefined && Date.now() - this.liveSince >= STABLE_LIVE_MS) {
      this.attempt = 0;
      this.quickSpent = false;
    }
    this.liveSince = undefined;
    // After a drain or a lost connection the first reconnect is quick (jitter only); another
    // before the client was stably live again is a failed attempt like any other.
    const quick = action !== 'retry' && !this.quickSpent;
    if (quick) this.quickSpent = true;
    const delay = reconnectDelay(quick ? action : 'retry', this.attempt, this.backoff);
    if (!(quick && action === 'drain')) this.attempt++;
    this.urlIndex++;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.running) void this.open();
    }, delay);
  }

  private becameLive(): void {
    this.clearDeadline();
    this.everLive = true;
    this.liveSince ??= Date.now();
    this.setState('live');
  }

  /** Gives up: reports the error and goes offline (connect() starts again). */
  private fail(error: MatchcastError): void {
    this.report({ ...error, fatal: true });
    this.stop();
  }

  private stop(): void {
    this.running = false;
    this.generation++;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.nextToken = undefined;
    const connection = this.connection;
    this.detach();
    connection?.close();
    this.setState('offline');
  }

  /** Forgets the current connection: its handlers go quiet, its timers stop. */
  private detach(): void {
    const connection = this.connection;
    this.connection = undefined;
    this.sseIdle = false;
    clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    clearTimeout(this.changesTimer);
    this.changesTimer = undefined;
    this.clearDeadline();
    this.refreshTimer.cancel();
    this.pendingSubscribes = [];
    this.unsubscribing.clear();
    this.changes = undefined;
    this.refreshing = undefined;
    connection?.detach();
  }

  // ---- token refresh ----

  private async refresh(): Promise<void> {
    const provider = this.options.token;
    const connection = this.connection;
    if (!provider || !connection) return;
    let fresh: string;
    try {
      fresh = await provider();
    } catch (cause) {
      if (connection === this.connection) this.report({ code: 'TOKEN_PROVIDER_FAILED', message: 'could not refresh the token', cause });
      return;
    }
    if (connection !== this.connection) return;
    const expiresAt = tokenExpiryMs(fresh);
    if (fresh === this.token || (expiresAt !== undefined && expiresAt <= Date.now())) {
      // Nothing newer yet: ask again halfway to expiry, while more than 2 s remain (the
      // server closes with 4001 at expiry; then the provider is asked once more).
      const current = this.token === undefined ? undefined : tokenExpiryMs(this.token);
      const remaining = current === undefined ? 0 : current - Date.now();
      if (remaining > 2000) this.refreshTimer.retryIn(remaining / 2);
      return;
    }
    if (connection.kind === 'sse') {
      // No refresh message on SSE: the stream is reopened with the new token.
      this.nextToken = fresh;
      return this.reopen();
    }
    this.refreshing = fresh;
    this.send({ action: 'refresh', token: fresh });
  }

  // ---- messages ----

  /** A message from the server (WebSocket pongs, SSE `resumed` and stream ends are the transports'). */
  private received(connection: Connection, message: IncomingMessage): void {
    if (connection !== this.connection) return;
    if (isEvent(message)) return this.onEvent(message);
    switch (message.type) {
      case 'connection_status':
        // Before any event, `since` is "from when I first connected", in the server's clock.
        if (this.positions.since === undefined) this.positions.noteTime(message.server_time);
        return;
      case 'subscribed':
        this.pendingSubscribes.shift();
        // Answered (also a stream reopened while live): no deadline.
        this.clearDeadline();
        if (this.currentState !== 'live') this.becameLive();
        return;
      case 'unsubscribed':
        return this.onUnsubscribed(message.channels);
      case 'refreshed': {
        if (this.refreshing !== undefined) this.token = this.refreshing;
        this.refreshing = undefined;
        // The server's expiry counts while it is ahead; one already past (or not a date) is no
        // reason to refresh at once: the token's own then counts.
        const at = message.expires_at ? Date.parse(message.expires_at) : NaN;
        this.refreshTimer.schedule(at > Date.now() ? at : this.token === undefined ? undefined : tokenExpiryMs(this.token));
        return;
      }
      case 'error':
        return this.onServerError(message);
      default:
        return;
    }
  }

  private onServerError(message: Extract<ControlMessage, { type: 'error' }>): void {
    const error: MatchcastError = { code: message.code, message: message.message };
    if (message.stream !== undefined) error.stream = message.stream;
    if (message.channel !== undefined) error.channel = message.channel;
    if (message.code === 'RESUME_TOO_OLD' && message.stream !== undefined) {
      this.report(error);
      return void this.reset(message.stream);
    }
    // A grant withdrawn on the server (a private league's member removed): the server names the
    // channel and has ended that subscription; drop it so a reconnect does not ask again.
    if (message.code === 'FORBIDDEN_CHANNEL' && message.channel !== undefined) {
      if (this.handlers.delete(message.channel)) this.positions.forgetChannel(message.channel);
      error.channels = [message.channel];
      return this.report(error);
    }
    if (message.channels !== undefined && !SUBSCRIBE_REFUSALS.has(message.code)) {
      // A subscribe refused for another reason than what it asks (the server names it): out of
      // the queue, so the next answer meets its own request. Its channels stay: a rate-limited
      // one is asked for again, an UNAVAILABLE one with everything on the reconnect below.
      const request = this.pendingSubscribes.shift();
      if (message.code === 'RATE_LIMITED' && request) return this.subscribeLater(request);
    }
    if (SUBSCRIBE_REFUSALS.has(message.code) && this.pendingSubscribes.length > 0) {
      const request = this.pendingSubscribes.shift()!;
      error.channels = request.channels;
      // A refused reconnect subscription would be refused again: stop rather than loop.
      if (request.initial) return this.fail(error);
      // The server refuses a subscribe message as a whole, and subscribe() calls of one task
      // share a message: ask again in halves until the refused channels are found alone, so
      // one channel a user may not see costs none of the others.
      const wanted = request.channels.filter((channel) => this.handlers.has(channel));
      if (wanted.length > 1) {
        const half = Math.ceil(wanted.length / 2);
        this.sendSubscribe(wanted.slice(0, half), false);
        this.sendSubscribe(wanted.slice(half), false);
        return;
      }
      for (const channel of request.channels) this.handlers.delete(channel);
      return this.report(error);
    }
    if (message.code === 'UNAVAILABLE' && this.connection) {
      // The server could not read what a subscribe, resume or replay needs (its database): what
      // was asked is not (all) in place. Reconnect — with backoff if it goes on — and every
      // channel is asked for again, with resume.
      this.report(error);
      return this.abandon(this.connection, CloseCodes.TRY_AGAIN_LATER);
    }
    if (message.code === 'UNAUTHORIZED' && this.refreshing !== undefined) {
      // The refresh was refused; the connection ends at the old token's expiry (then 4001).
      this.refreshing = undefined;
    }
    this.report(error);
  }

  /** `unsubscribed` answers our unsubscribe, or says a refreshed token no longer grants channels. */
  private onUnsubscribed(channels: string[]): void {
    const dropped: string[] = [];
    for (const channel of channels) {
      const pending = this.unsubscribing.get(channel) ?? 0;
      if (pending > 0) {
        if (pending === 1) this.unsubscribing.delete(channel);
        else this.unsubscribing.set(channel, pending - 1);
      } else if (this.handlers.delete(channel)) {
        this.positions.forgetChannel(channel);
        dropped.push(channel);
      }
    }
    if (dropped.length > 0) {
      this.report({ code: 'FORBIDDEN_CHANNEL', message: 'the new token does not grant these channels', channels: dropped, channel: dropped[0]! });
    }
  }

  private onEvent(event: DeliveredMessage): void {
    if (!this.handlers.has(event.channel)) return;
    const held = this.held.get(event.stream);
    if (held) held.push(event);
    else this.deliver(event);
  }

  /** Drops duplicates (seq ≤ last), accepts gaps (counted), then calls the channel's handlers. */
  private deliver(event: DeliveredMessage): void {
    const last = this.positions.get(event.stream);
    const verdict = this.positions.accept(event.stream, event.seq, event.channel, event.timestamp);
    if (verdict === 'duplicate') return;
    if (verdict === 'gap') this.emitter.emit('gap', { stream: event.stream, expected: (last ?? 0) + 1, received: event.seq });
    this.emitter.emit('event', event);
    for (const handler of [...(this.handlers.get(event.channel) ?? [])]) {
      try {
        handler(event);
      } catch (error) {
        this.emitter.onListenerError(error);
      }
    }
  }

  /**
   * RESUME_TOO_OLD: the stream's history is gone. Its events are held while the reset
   * handlers reload state; then the stream continues from the positions they return.
   */
  private async reset(stream: string): Promise<void> {
    if (this.held.has(stream)) return;
    this.held.set(stream, []);
    this.positions.forget(stream);
    this.resets++;
    const positions: StreamPositions = {};
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${RESET_TIMEOUT_MS} ms`)), RESET_TIMEOUT_MS);
        // Not cleared by close() (the handlers may still be running): it must not keep a Node process alive.
        (timer as { unref?: () => void }).unref?.();
      });
      const answers = await Promise.race([Promise.all([...this.resetHandlers].map(async (handler) => (await handler(stream)) ?? {})), timeout]);
      for (const answer of answers) {
        for (const [key, seq] of Object.entries(answer)) positions[key] = Math.max(seq, positions[key] ?? 0);
      }
    } catch (cause) {
      this.report({ code: 'RESET_FAILED', message: `the reset handler failed for ${stream}`, stream, cause });
    } finally {
      clearTimeout(timer);
    }
    const held = this.held.get(stream) ?? [];
    this.held.delete(stream);
    if (this.closed) return;
    this.positions.seed(positions);
    this.emitter.emit('reset', { stream, positions });
    for (const event of held) if (this.handlers.has(event.channel)) this.deliver(event);
  }

  // ---- helpers ----

  /** Sends a rate-limited subscribe again (what of it is still wanted), unless a new connection asks for every channel anyway. */
  private subscribeLater(request: { channels: string[]; initial: boolean }): void {
    const connection = this.connection;
    const timer = setTimeout(() => {
      if (connection !== this.connection || !this.isOpen()) return;
      const wanted = request.channels.filter((channel) => this.handlers.has(channel));
      if (wanted.length > 0) this.sendSubscribe(wanted, request.initial);
    }, SUBSCRIBE_RETRY_MS * (1 + Math.random()));
    (timer as { unref?: () => void }).unref?.();
  }

  private sendSubscribe(channels: string[], initial: boolean): void {
    // On (re)connect: every subscribed stream's last seq, and `since` for the rest. A channel
    // added while connected: only seeded positions (nothing older is wanted for it).
    const resume = initial ? this.positions.resume(new Set(channels), this.maxResume) : this.positions.unattached(this.maxResume);
    const since = initial ? this.positions.since : undefined;
    const message: ClientMessage = { action: 'subscribe', channels };
    if (since !== undefined) message.since = since;
    if (channels.length > 1 && !this.fits(message)) {
      // Too many channels for one frame: several subscribes, each with its own channels' resume.
      const half = Math.ceil(channels.length / 2);
      this.sendSubscribe(channels.slice(0, half), initial);
      this.sendSubscribe(channels.slice(half), initial);
      return;
    }
    message.resume = resume;
    // Streams left out, the least recently active first, are covered by `since` (as beyond maxResume).
    const streams = Object.keys(resume);
    while (streams.length > 0 && !this.fits(message)) delete resume[streams.pop()!];
    if (streams.length === 0) delete message.resume;
    if (!this.send(message)) return;
    this.pendingSubscribes.push({ channels, initial });
    if (message.resume !== undefined || message.since !== undefined || this.positions.isHolding) {
      // Until the server says the replay is complete (on WebSocket: the pong to a ping sent
      // right after the subscribe), event timestamps do not move `since` (see Positions.holdTimes).
      this.positions.holdTimes();
      this.connection!.markReplayEnd();
    }
  }

  private send(message: ClientMessage): boolean {
    return this.connection?.send(message) ?? false;
  }

  private isOpen(): boolean {
    return this.connection?.writable ?? false;
  }

  private setState(state: ConnectionState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emitter.emit('state', state);
  }

  private report(error: MatchcastError): void {
    this.emitter.emit('error', error);
  }
}
