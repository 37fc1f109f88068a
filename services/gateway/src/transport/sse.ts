import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { ErrorCodes, ProtocolError, baseChannel, isPrivateStream, isPrivateStreamKind, parseChannel, parseClientMessage, type ErrorCode, type OutboxEvent, type ServerMessage } from '@matchcast/protocol';
import { singleQuery, type Logger } from '@matchcast/runtime';
import type { Request, Response } from 'express';
import type { Identity } from '@matchcast/auth';
import type { GatewayMetrics } from '../metrics';
import { SubscriberState } from '../delivery/subscriber';
import type { Client, Sessions, StreamPositions, SubscribeRequest } from '../sessions/session';
import { admit, opened, refusal, type AdmissionRules } from './admission';
import { controlText, sseChunk, type EventFrames } from '../delivery/frames';
import { ConnectionPositions, type DecodedToken, type PositionTokens } from './sse-positions';
import { batchedWrite, holdWrites } from './write-batch';

export const SSE_PATH = '/sse';

/** Ends a block that has only an `id:` line: the browser takes the id, no event is dispatched. */
const ID_ONLY_END = Buffer.from('\n');
/**
 * A named event, not a comment: EventSource hands comments to no one, so a client could not tell
 * a quiet stream from a dead one (a frozen gateway, a half-open connection); `onmessage` handlers
 * do not see it either. Without an `id:`, it moves no position.
 */
const KEEP_ALIVE = Buffer.from('event: ping\ndata: {}\n\n');
/** While live, `since` (for streams a token leaves out) moves up to the newest event at most this often. */
const SINCE_STEP_MS = 60_000;

/** How an SSE endpoint's messages look on the wire (after each connection's own `id:` line). */
export interface SseFormat {
  /** An event: built once per event (and channel), shared by every connection. */
  event(frames: EventFrames): Buffer;
  /** A control message; undefined shows nothing (a `subscribed` or `resumed` still moves the id). */
  control(message: ServerMessage): Buffer | undefined;
  /** Sent every ping interval so that proxies keep an idle stream open. */
  keepAlive(): Buffer;
}

/** /sse: every message as `data: <the WebSocket JSON>`, a `ping` event as keep-alive. */
export const MESSAGE_FORMAT: SseFormat = {
  event: (frames) => frames.sseFrame(),
  control: (message) => sseChunk(controlText(message)),
  keepAlive: () => KEEP_ALIVE,
};

/** Where a connection starts: its positions, and the stream channels placed once the subscribe is answered. */
export interface SseStart {
  positions: ConnectionPositions;
  /** Whether the connection's channels need `since` in the token by themselves. */
  needsSince: boolean;
  /** User stream channels not resumed: their head is learnt during the subscribe (see placeUnplaced). */
  unplaced: string[];
}

export interface SseClientOptions {
  maxBufferedBytes: number;
  onSlow: () => void;
  tokens: PositionTokens;
  heads: StreamPositions;
  start: SseStart;
  subscribedAtMs: number;
  /** The subscribe resumes (or has `since`): `since` stays where the request put it until `resumed`. */
  resuming: boolean;
  format: SseFormat;
}

/**
 * A Server-Sent Events client. Every event's `id:` is the connection's position token
 * (sse-positions.ts), so the browser's own reconnect resumes every stream. The rest of an
 * event is built once for all connections (the format's); only the short `id:` line is per
 * client. The body is written straight to the socket, as WebSocket frames are (no chunked
 * encoding: the response ends when the connection does), corked for one event-loop turn.
 */
export class SseClient extends SubscriberState implements Client {
  readonly transport = 'sse';
  readonly positions: ConnectionPositions;
  private caughtUp: boolean;
  private ended = false;
  private readonly socket: Socket;

  constructor(
    readonly id: string,
    public identity: Identity,
    readonly addressGroup: string,
    private readonly res: Response,
    private readonly options: SseClientOptions,
  ) {
    super();
    this.positions = options.start.positions;
    this.caughtUp = !options.resuming;
    this.socket = res.socket!;
  }

  /** Sends the response head; the body follows on the socket. */
  start(): void {
    this.res.useChunkedEncodingByDefault = false;
    this.res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
    });
    this.res.flushHeaders();
    this.write(undefined, Buffer.from('retry: 1000\n\n'));
  }

  deliver(frames: EventFrames): boolean {
    const event = frames.event;
    this.positions.set(event.stream, this.options.tokens.eventItem(event));
    if (this.caughtUp && this.positions.withSince) this.advanceSince(event);
    return this.write(this.positions.idLine(), this.options.format.event(frames));
  }

  /** `subscribed` and `resumed` carry the token too: a browser that had no event yet still resumes from where it subscribed. */
  send(message: ServerMessage): void {
    if (message.type === 'resumed') {
      this.caughtUp = true;
      this.positions.setSince(Math.max(this.positions.sinceAt ?? 0, this.options.subscribedAtMs));
    }
    const refusedAt = message.type === 'error' && message.code === 'RESUME_TOO_OLD' ? message.stream : undefined;
    if (refusedAt !== undefined) this.goneOnLive(refusedAt);
    const chunk = this.options.format.control(message);
    if (message.type === 'subscribed' || message.type === 'resumed' || refusedAt !== undefined) this.write(this.positions.idLine(), chunk ?? ID_ONLY_END);
    else if (chunk) this.write(undefined, chunk);
    if (message.type === 'subscribed' && this.options.start.unplaced.length > 0) process.nextTick(() => this.placeUnplaced());
  }

  /** Writes a block of the endpoint's own (e.g. the notification stream's `connected`). */
  announce(chunk: Buffer): void {
    this.write(undefined, chunk);
  }

  /**
   * A user stream's position is learnt when its first local subscriber comes, so it is known
   * only once the subscribe is answered. Right after `subscribed` and the events held during
   * the subscribe (same turn), a stream still without a position gets the delivered head, and
   * the new token goes out as an id-only block. Until then the token carries `since`, which
   * covers the stream on a reconnect in between.
   */
  private placeUnplaced(): void {
    const { tokens, heads, start } = this.options;
    for (const stream of start.unplaced) if (!this.positions.has(stream)) this.positions.set(stream, tokens.item(stream, heads.lastSeq(stream)));
    this.positions.withSince = start.needsSince;
    this.write(this.positions.idLine(), ID_ONLY_END);
  }

  /**
   * A resume position refused (RESUME_TOO_OLD: ahead of the stream's head, too far behind, rows
   * pruned): the stream goes on live from the gateway's delivered head, everything before it
   * delivered or refused, so that is its position now. Kept as it was, the refused position
   * stayed in the token until the stream's next event, and a reconnect in between was refused
   * again and missed what came while it was away.
   */
  private goneOnLive(stream: string): void {
    this.positions.set(stream, this.options.tokens.item(stream, this.options.heads.lastSeq(stream)));
  }

  keepAlive(): void {
    this.write(undefined, this.options.format.keepAlive());
  }

  private advanceSince(event: OutboxEvent): void {
    const at = Date.parse(event.timestamp);
    if (at - (this.positions.sinceAt ?? 0) >= SINCE_STEP_MS) this.positions.setSince(at);
  }

  /** The `id:` line and the shared frame: two writes into one corked batch, the payload never copied. */
  private write(idLine: Buffer | undefined, chunk: Buffer): boolean {
    if (this.ended || !this.socket.writable) return false; // not after a client's half-close ended the socket
    if (this.socket.writableLength > this.options.maxBufferedBytes) {
      this.options.onSlow();
      this.close('SLOW_CONSUMER');
      return false;
    }
    if (idLine !== undefined) batchedWrite(this.socket, idLine);
    batchedWrite(this.socket, chunk);
    return true;
  }

  /** Ends the stream with an error event; the browser's EventSource reconnects (with Last-Event-ID). */
  close(code: ErrorCode): void {
    if (this.ended) return;
    this.ended = true;
    // Past write()'s slow-consumer check: that check is what closes a slow client, and going
    // through it again recursed until the stack overflowed, in the middle of a fan-out.
    const chunk = this.options.format.control({ type: 'error', code, message: ErrorCodes[code].message });
    if (chunk && this.socket.writable) batchedWrite(this.socket, chunk);
    holdWrites(this.socket); // the end after the error event, not before it
    this.socket.end();
    // A slow or dead peer may never take the rest.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }
}

export interface SseRequest {
  subscribe: SubscribeRequest;
  /** The Last-Event-ID's position token, verified; it replaces the URL's `resume` and `since`. */
  token: DecodedToken | undefined;
}

/**
 * The SSE request as a subscribe message: `channels`, optional `resume` (JSON {stream: seq})
 * and `since` query parameters, and the browser's Last-Event-ID: a position token (every
 * stream, verified), or the older `<stream>@<seq>` (one stream). Parsed by the same code as a
 * WebSocket subscribe.
 */
function requestFrom(req: Request, maxChannels: number, tokens: PositionTokens): SseRequest {
  const query = (name: string) => singleQuery(req, name);
  // No prototype: a key named __proto__ (the query's or Last-Event-ID's) is a key, refused by the parser, not a setter that drops it.
  const resume: Record<string, unknown> = Object.create(null);
  let since = query('since');
  const resumeQuery = query('resume');
  if (resumeQuery) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(resumeQuery);
    } catch {
      // answered below, as any other value that is not an object
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ProtocolError('BAD_RESUME', 'resume must be a JSON object of {stream: seq}');
    Object.assign(resume, parsed);
  }
  const lastEventId = req.get('last-event-id');
  let token: DecodedToken | undefined;
  if (lastEventId?.includes('@')) {
    const at = lastEventId.lastIndexOf('@');
    resume[lastEventId.slice(0, at)] = legacySeq(lastEventId.slice(at + 1));
  } else if (lastEventId) {
    // The token is newer than the URL the browser reconnects with: it replaces its resume and since.
    token = tokens.decode(lastEventId);
    for (const key of Object.keys(resume)) delete resume[key];
    for (const [stream, seq] of token.positions) resume[stream] = seq;
    since = token.sinceMs === undefined ? undefined : new Date(token.sinceMs).toISOString();
  }
  const message = { action: 'subscribe', channels: (query('channels') ?? '').split(',').filter(Boolean), resume, since };
  const parsed = parseClientMessage(JSON.stringify(message), { maxChannelsPerMessage: maxChannels });
  if (parsed.action !== 'subscribe') throw new ProtocolError('BAD_MESSAGE');
  return { subscribe: parsed, token };
}

/**
 * The seq of the older `<stream>@<seq>` id: decimal digits only. Number() read an empty seq
 * (`match:a@`) as 0, which replayed the stream from its start, and `0x10`, ` 1e1` as numbers.
 */
function legacySeq(text: string): number {
  if (!/^[0-9]{1,16}$/.test(text)) throw new ProtocolError('BAD_RESUME', 'Last-Event-ID <stream>@<seq> needs the seq in decimal digits');
  return Number(text);
}

/** Channels that are one stream each (match:<id> and its topics, user:<id>, purchase:<id>); the others (league, team, live, all) need `since` in the token. */
const isStreamChannel = (name: string): boolean => {
  const kind = parseChannel(name).kind;
  return kind === 'match' || isPrivateStreamKind(kind);
};

/**
 * What the request resumes from (the token's items as issued), and for every match stream
 * channel not resumed, the gateway's delivered head at the moment of the subscribe (it is
 * subscribed in the same turn) — so a browser that reconnects before any event of that stream
 * still gets every event after its subscribe. User streams not resumed are placed once the
 * subscribe is answered (SseClient.placeUnplaced); meanwhile the token carries `since`.
 * The heads go in first: were there more positions than a token holds, the first dropped
 * would be a head, which `since` (the subscribe's time at the latest) covers.
 */
export function startingPositions(tokens: PositionTokens, heads: StreamPositions, request: SseRequest, subscribedAtMs: number): SseStart {
  const { subscribe, token } = request;
  const needsSince = !subscribe.channels.every(isStreamChannel);
  const positions = new ConnectionPositions(tokens, needsSince);
  // Never past the subscribe: a `since` in the future (a client's or a gateway's clock ahead) is
  // now for the subscribe, and kept as it was it stayed in every token (it moves up only to newer
  // events), so a reconnect resumed the streams the token leaves out from the reconnect, not the drop.
  positions.setSince(subscribe.since === undefined ? subscribedAtMs : Math.min(subscribedAtMs, Date.parse(subscribe.since)));
  const unplaced: string[] = [];
  for (const name of subscribe.channels) {
    // A match's topic channel (match:<id>/live) is placed on its stream, match:<id>.
    const stream = baseChannel(name);
    if (!isStreamChannel(name) || subscribe.resume.has(stream)) continue;
    if (isPrivateStream(stream)) unplaced.push(stream);
    else positions.set(stream, tokens.item(stream, heads.lastSeq(stream)));
  }
  for (const [stream, seq] of subscribe.resume) positions.set(stream, token?.items.get(stream) ?? tokens.item(stream, seq));
  if (unplaced.length > 0) positions.withSince = true;
  return { positions, needsSince, unplaced };
}

export interface SseOptions {
  maxBufferedBytes: number;
  maxChannels: number;
  /** The keep-alive's interval: `connection_status` tells it (keep_alive_ms), so clients can tell silence from quiet. */
  pingIntervalMs: number;
}

/** What the SSE endpoint needs besides sessions: the delivered heads (the sequencer) and the token key. */
export interface SsePositionSources {
  heads: StreamPositions;
  tokens: PositionTokens;
}

/** What an SSE endpoint decided before the `200`. */
export interface PreparedStream {
  subscribe: SubscribeRequest;
  /**
   * The client, made in the same turn as the subscribe (its starting positions read the
   * delivered heads, so nothing may be delivered in between).
   */
  client(res: Response, identity: Identity): SseClient;
  /** The first thing the stream says once open. */
  greet(client: SseClient): void;
}

/**
 * An SSE endpoint. Everything that can refuse — admission (origin, caps, token), then the
 * endpoint's own checks in `prepare` (the query, the Last-Event-ID, the authorization of every
 * channel and resume key) — happens before the `200`, and a refusal is a plain HTTP error with
 * the coded JSON body, which stops EventSource from retrying. Then the stream opens and subscribes.
 */
export function sseEndpoint(
  rules: AdmissionRules,
  sessions: Sessions,
  metrics: GatewayMetrics,
  logger: Logger,
  /** Prepares the stream of an admitted request; `addressGroup` is the client's (Admitted). */
  prepare: (req: Request, identity: Identity, addressGroup: string) => Promise<PreparedStream> | PreparedStream,
) {
  return async (req: Request, res: Response): Promise<void> => {
    let release: (() => void) | undefined;
    let admitted: () => void;
    let identity: Identity;
    let prepared: PreparedStream;
    try {
      let addressGroup: string;
      ({ release, identity, addressGroup, opened: admitted } = await admit(rules, req, singleQuery(req, 'token') ?? null));
      prepared = await prepare(req, identity, addressGroup);
    } catch (error) {
      release?.();
      const failure = refusal(error, metrics.connectionsRejected, logger);
      res.status(failure.httpStatus).json(failure.body());
      return;
    }
    if (req.socket.destroyed) return release(); // left while it was being checked
    if (req.method === 'HEAD') {
      // The body goes straight to the socket, which a HEAD answer must not have.
      release();
      res.status(200).type('text/event-stream').end();
      return;
    }
    const client = prepared.client(res, identity);
    client.start();
    sessions.open(client);
    admitted();
    opened(metrics, 'sse');
    res.on('close', () => {
      release?.();
      sessions.closed(client);
      metrics.connections.dec({ transport: 'sse' });
    });
    prepared.greet(client);
    sessions.subscribe(client, prepared.subscribe).catch((error: unknown) => {
      sessions.reject(client, error);
      client.close(ProtocolError.from(error).code);
    });
  };
}

/** GET /sse: the subscribe is the query (and the Last-Event-ID); the same JSON messages as WebSocket. */
export function sseHandler(options: SseOptions, rules: AdmissionRules, sessions: Sessions, sources: SsePositionSources, metrics: GatewayMetrics, logger: Logger) {
  return sseEndpoint(rules, sessions, metrics, logger, async (req, identity, addressGroup) => {
    const request = requestFrom(req, options.maxChannels, sources.tokens);
    await sessions.authorize(identity, new Set(), request.subscribe);
    return {
      subscribe: request.subscribe,
      client: (res, identity) => {
        const subscribedAtMs = Date.now();
        return new SseClient(randomUUID(), identity, addressGroup, res, {
          maxBufferedBytes: options.maxBufferedBytes,
          onSlow: () => metrics.slowConsumers.inc(),
          ...sources,
          start: startingPositions(sources.tokens, sources.heads, request, subscribedAtMs),
          subscribedAtMs,
          resuming: request.subscribe.resume.size > 0 || request.subscribe.since !== undefined,
          format: MESSAGE_FORMAT,
        });
      },
      greet: (client) =>
        client.send({
          type: 'connection_status',
          status: 'connected',
          connection_id: client.id,
          server_time: new Date().toISOString(),
          keep_alive_ms: options.pingIntervalMs,
        }),
    };
  });
}
