import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { ErrorCodes, ProtocolError, parseChannel, parseClientMessage, type ErrorCode, type OutboxEvent, type ServerMessage } from '@matchcast/protocol';
import type { Logger } from '@matchcast/runtime';
import type { Request, Response } from 'express';
import type { Identity } from '@matchcast/auth';
import type { GatewayMetrics } from '../metrics';
import { isUserStream } from '../delivery/sequencer';
import { SubscriberState } from '../delivery/subscriber';
import type { Client, Sessions, StreamPositions, SubscribeRequest } from '../sessions/session';
import { admit, refusal, type AdmissionRules } from './admission';
import { controlText, sseChunk, type EventFrames } from '../delivery/frames';
import { ConnectionPositions, type DecodedToken, type PositionTokens } from './sse-positions';
import { batchedWrite } from './write-batch';

export const SSE_PATH = '/sse';

/** Ends a block that has only an `id:` line: the browser takes the id, no event is dispatched. */
const ID_ONLY_END = Buffer.from('\n');
/** While live, `since` (for streams a token leaves out) moves up to the newest event at most this often. */
const SINCE_STEP_MS = 60_000;

/**
 * A Server-Sent Events client: the same JSON as WebSocket. Every event's `id:` is the
 * connection's position token (sse-positions.ts), so the browser's own reconnect resumes every
 * stream. The `data:` part is the event's shared frame; only the short `id:` line is per client.
 * The body is written straight to the socket, as WebSocket frames are (no chunked encoding:
 * the response ends when the connection does), corked for one event-loop turn.
 */
export class SseClient extends SubscriberState implements Client {
  /** Until the subscribe's replays are done, `since` stays where the request put it. */
  private caughtUp: boolean;
  private ended = false;
  private readonly socket: Socket;

  constructor(
    readonly id: string,
    public identity: Identity,
    private readonly res: Response,
    private readonly maxBufferedBytes: number,
    private readonly onSlow: () => void,
    private readonly tokens: PositionTokens,
    readonly positions: ConnectionPositions,
    /** Whether the connection's channels need `since` in the token by themselves. */
    private readonly needsSince: boolean,
    private readonly subscribedAtMs: number,
    resuming: boolean,
    /** Stream channels whose position is known only once the subscribe is done (see placeUnplaced). */
    private readonly unplaced: { heads: StreamPositions; streams: string[] } | undefined,
  ) {
    super();
    this.caughtUp = !resuming;
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
    this.positions.set(event.stream, this.tokens.eventItem(event));
    if (this.caughtUp && this.positions.withSince) this.advanceSince(event);
    return this.write(this.positions.idLine(), frames.sseFrame());
  }

  /** `subscribed` and `resumed` carry the token too: a browser that had no event yet still resumes from where it subscribed. */
  send(message: ServerMessage): void {
    if (message.type === 'resumed') {
      this.caughtUp = true;
      this.positions.setSince(Math.max(this.positions.sinceAt ?? 0, this.subscribedAtMs));
    }
    const positioned = message.type === 'subscribed' || message.type === 'resumed';
    this.write(positioned ? this.positions.idLine() : undefined, sseChunk(controlText(message)));
    if (message.type === 'subscribed' && this.unplaced) process.nextTick(() => this.placeUnplaced());
  }

  /**
   * A user stream's position is learnt when its first local subscriber comes, so it is known
   * only once the subscribe is answered. Right after `subscribed` and the events held during
   * the subscribe (same turn), a stream still without a position gets the delivered head, and
   * the new token goes out as an id-only block. Until then the token carries `since`, which
   * covers the stream on a reconnect in between.
   */
  private placeUnplaced(): void {
    const { heads, streams } = this.unplaced!;
    for (const stream of streams) if (!this.positions.has(stream)) this.positions.set(stream, this.tokens.item(stream, heads.lastSeq(stream)));
    this.positions.withSince = this.needsSince;
    this.write(this.positions.idLine(), ID_ONLY_END);
  }

  /** SSE comment line: keeps proxies from timing out an idle stream. */
  keepAlive(): void {
    this.write(undefined, Buffer.from(': keep-alive\n\n'));
  }

  private advanceSince(event: OutboxEvent): void {
    const at = Date.parse(event.timestamp);
    if (at - (this.positions.sinceAt ?? 0) >= SINCE_STEP_MS) this.positions.setSince(at);
  }

  /** The `id:` line and the shared frame: two writes into one corked batch, the payload never copied. */
  private write(idLine: Buffer | undefined, chunk: Buffer): boolean {
    if (this.ended || this.socket.destroyed) return false;
    if (this.socket.writableLength > this.maxBufferedBytes) {
      this.onSlow();
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
    this.send({ type: 'error', code, message: ErrorCodes[code].message });
    this.ended = true;
    this.socket.end();
    // A slow or dead peer may never take the rest.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }
}

interface SseRequest {
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
  const query = (name: string) => (typeof req.query[name] === 'string' ? (req.query[name] as string) : undefined);
  const resume: Record<string, unknown> = {};
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
    resume[lastEventId.slice(0, at)] = Number(lastEventId.slice(at + 1));
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

/** Channels that are one stream each (match:<id>, user:<id>); the others (league, team, live, all) need `since` in the token. */
const isStreamChannel = (name: string): boolean => {
  const kind = parseChannel(name).kind;
  return kind === 'match' || kind === 'user';
};

/** The new connection's starting position, and the stream channels whose position comes later. */
interface Start {
  positions: ConnectionPositions;
  needsSince: boolean;
  unplaced: string[];
}

/**
 * What the request resumes from (the token's items as issued), and for every match stream
 * channel not resumed, the gateway's delivered head at the moment of the subscribe (it is
 * subscribed in the same turn) — so a browser that reconnects before any event of that stream
 * still gets every event after its subscribe. User streams not resumed are placed once the
 * subscribe is answered (SseClient.placeUnplaced); meanwhile the token carries `since`.
 */
function startingPositions(tokens: PositionTokens, heads: StreamPositions, request: SseRequest, subscribedAtMs: number): Start {
  const { subscribe, token } = request;
  const needsSince = !subscribe.channels.every(isStreamChannel);
  const positions = new ConnectionPositions(tokens, needsSince);
  positions.setSince(subscribe.since === undefined ? subscribedAtMs : Date.parse(subscribe.since));
  for (const [stream, seq] of subscribe.resume) positions.set(stream, token?.items.get(stream) ?? tokens.item(stream, seq));
  const unplaced: string[] = [];
  for (const name of subscribe.channels) {
    if (!isStreamChannel(name) || positions.has(name)) continue;
    if (isUserStream(name)) unplaced.push(name);
    else positions.set(name, tokens.item(name, heads.lastSeq(name)));
  }
  if (unplaced.length > 0) positions.withSince = true;
  return { positions, needsSince, unplaced };
}

export interface SseOptions {
  maxBufferedBytes: number;
  maxChannels: number;
}

/** What the SSE endpoint needs besides sessions: the delivered heads (the sequencer) and the token key. */
export interface SsePositionSources {
  heads: StreamPositions;
  tokens: PositionTokens;
}

/**
 * GET /sse. Everything that can refuse — admission (origin, caps, token), the query, the
 * Last-Event-ID, the authorization of every channel and resume key — happens before the `200`,
 * and a refusal is a plain HTTP error with the coded JSON body, which stops EventSource from retrying.
 */
export function sseHandler(options: SseOptions, rules: AdmissionRules, sessions: Sessions, sources: SsePositionSources, metrics: GatewayMetrics, logger: Logger) {
  return async (req: Request, res: Response): Promise<void> => {
    let release: (() => void) | undefined;
    let client: SseClient;
    let request: SseRequest;
    try {
      const admitted = await admit(rules, req, typeof req.query.token === 'string' ? req.query.token : null);
      release = admitted.release;
      request = requestFrom(req, options.maxChannels, sources.tokens);
      sessions.check(admitted.identity, new Set(), request.subscribe);
      const resuming = request.subscribe.resume.size > 0 || request.subscribe.since !== undefined;
      const subscribedAtMs = Date.now();
      const start = startingPositions(sources.tokens, sources.heads, request, subscribedAtMs);
      client = new SseClient(randomUUID(), admitted.identity, res, options.maxBufferedBytes, () => metrics.slowConsumers.inc(), sources.tokens,
        start.positions, start.needsSince, subscribedAtMs, resuming, start.unplaced.length > 0 ? { heads: sources.heads, streams: start.unplaced } : undefined);
    } catch (error) {
      release?.();
      const failure = refusal(error, metrics.connectionsRejected, logger);
      res.status(failure.httpStatus).json(failure.body());
      return;
    }
    if (req.socket.destroyed) return release(); // left while its token was checked
    client.start();
    sessions.open(client);
    metrics.connections.inc({ transport: 'sse' });
    res.on('close', () => {
      release?.();
      sessions.closed(client);
      metrics.connections.dec({ transport: 'sse' });
    });
    client.send({ type: 'connection_status', status: 'connected', connection_id: client.id, server_time: new Date().toISOString() });
    sessions.subscribe(client, request.subscribe).catch((error: unknown) => {
      sessions.reject(client, error);
      client.close(ProtocolError.from(error).code);
    });
  };
}
