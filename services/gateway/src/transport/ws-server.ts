import { randomUUID } from 'node:crypto';
import { ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ProtocolError, parseClientMessage, type ClientMessage } from '@matchcast/protocol';
import type { Logger } from '@matchcast/runtime';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Identity } from '@matchcast/auth';
import type { GatewayMetrics } from '../metrics';
import type { Sessions } from '../sessions/session';
import { admit, opened, refusal, type AdmissionRules } from './admission';
import { endSocket, parseTarget } from './http-errors';
import type { UserSlot } from './user-slot';
import { WsClient } from './ws-client';
import { holdWrites } from './write-batch';

export const WS_PATH = '/ws';
/** A connection may have this many seconds of its message rate waiting to be handled, no more. */
const MAX_QUEUED_SECONDS = 3;

export interface WsOptions {
  maxPayloadBytes: number;
  maxBufferedBytes: number;
  maxChannels: number;
  messagesPerSecond: number;
}

/**
 * The WebSocket endpoint: admits in the upgrade handler (before any socket is accepted) and
 * turns frames into session actions. Nothing a client sends — request target, headers,
 * frames — can throw out of here: refusals (ws' own handshake checks among them) are answered
 * with a coded HTTP response, bad frames with an `error` message, and the connection (and
 * every other) lives on. An upgrade that is not a WebSocket one to /ws is a plain request.
 */
export class WsServer {
  private readonly wss: WebSocketServer;
  /**
   * The listeners of every connection, created once per server rather than once per
   * connection: ws calls them with `this` set to the socket, which carries its client. Closures
   * per connection were a third of the heap a connection added beyond a bare ws server.
   */
  private readonly listeners: ConnectionListeners;
  private readonly onUpgradeError: (error: Error) => void;
  private readonly onSlow: () => void;

  constructor(
    private readonly options: WsOptions,
    private readonly rules: AdmissionRules,
    private readonly sessions: Sessions,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxPayloadBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.listeners = connectionListeners(this);
    this.onUpgradeError = (error) => logger.debug({ err: error }, 'socket error during upgrade');
    this.onSlow = () => metrics.slowConsumers.inc();
  }

  attach(server: Server): void {
    // ws' handshake checks (method, Sec-WebSocket-Key, -Version, -Protocol) answer with the coded JSON body, not
    // ws' plain text; as ws does, the socket is closed once that is out (past admission, it holds a per-address slot).
    this.wss.on('wsClientError', (error: Error, socket: Duplex) => {
      socket.once('finish', () => socket.destroy());
      this.refuse(socket, new ProtocolError('BAD_REQUEST', `WebSocket handshake: ${error.message}`));
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', this.onUpgradeError);
      this.upgrade(server, req, socket, head).catch((error: unknown) => this.refuse(socket, error));
    });
  }

  private refuse(socket: Duplex, error: unknown): void {
    endSocket(socket, refusal(error, this.metrics.connectionsRejected, this.logger));
  }

  private async upgrade(server: Server, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = req.headers.upgrade?.toLowerCase() === 'websocket' ? parseTarget(req.url) : undefined;
    if (url?.pathname !== WS_PATH) return answerAsHttp(server, req, socket);
    const { identity, addressGroup, userSlot, release, opened: admitted } = await admit(this.rules, req, queryToken(url.searchParams));
    // The slot is held for as long as the socket lives, whether or not the handshake completes.
    socket.once('close', release);
    if (socket.destroyed) return release();
    // The 101 response and connection_status leave in one write (a syscall and a wake-up of the peer per connection less in a storm).
    holdWrites(socket as Socket);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.connected(ws, identity, addressGroup, userSlot);
      admitted();
    });
  }

  private connected(ws: WebSocket, identity: Identity, addressGroup: string, userSlot: UserSlot): void {
    const client = new WsClient(randomUUID(), identity, addressGroup, ws, this.options.maxBufferedBytes, this.onSlow, this.options.messagesPerSecond, userSlot);
    this.sessions.open(client);
    opened(this.metrics, 'ws');
    ws.on('error', this.listeners.error);
    ws.on('pong', this.listeners.pong);
    ws.on('close', this.listeners.close);
    ws.on('message', this.listeners.message);
    client.send({ type: 'connection_status', status: 'connected', connection_id: client.id, server_time: new Date().toISOString() });
  }

  /** A frame from a client: rate-limited, then handled after the ones before it (replies keep request order). */
  received(client: WsClient, data: RawData, isBinary: boolean): void {
    client.lastSeenAt = Date.now();
    // Frames within the rate still pile up behind one that waits on the database (a stalled
    // read): past a few seconds' worth, the client is flooding, and what it queued is memory.
    if (client.queued >= this.options.messagesPerSecond * MAX_QUEUED_SECONDS) return client.close('RATE_LIMITED');
    if (!client.limiter.take()) {
      if (client.limiter.abusive()) return client.close('RATE_LIMITED');
      const message = this.tryParse(data, isBinary);
      // Refused past the rate (yet counted: a flood of them is cut off above), except what only
      // frees or costs next to nothing, and whose loss the client cannot see: an unsubscribe
      // (it would keep receiving what it believes it left) and a ping (its pong marks where a
      // replay ends; one missing puts every later pong one behind).
      if (message?.action === 'unsubscribe' || message?.action === 'ping') {
        return client.enqueue(() => this.sessions.handle(client, message), this.rejectFailed);
      }
      // A refused subscribe is named by its channels, as every refused subscribe is: the client's
      // queue of subscribes waiting for an answer stays in step, and it can ask again later.
      const channels = message?.action === 'subscribe' ? message.channels : undefined;
      return client.enqueue(() => this.sessions.reject(client, new ProtocolError('RATE_LIMITED'), channels), this.rejectFailed);
    }
    client.enqueue(() => this.sessions.handle(client, this.parse(data, isBinary)), this.rejectFailed);
  }

  private parse(data: RawData, isBinary: boolean): ClientMessage {
    if (isBinary) throw new ProtocolError('BINARY_NOT_SUPPORTED');
    const text = Array.isArray(data) ? Buffer.concat(data).toString() : data.toString();
    return parseClientMessage(text, { maxChannelsPerMessage: this.options.maxChannels });
  }

  /** The frame's message, or undefined when it is not a valid one. */
  private tryParse(data: RawData, isBinary: boolean): ClientMessage | undefined {
    try {
      return this.parse(data, isBinary);
    } catch {
      return undefined;
    }
  }

  private readonly rejectFailed = (client: WsClient, error: unknown): Promise<void> | void => this.sessions.reject(client, error);

  closed(client: WsClient): void {
    this.sessions.closed(client);
    this.metrics.connections.dec({ transport: 'ws' });
  }

  socketError(client: WsClient, error: Error): void {
    this.logger.debug({ err: error, client_id: client.id }, 'websocket error');
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

/**
 * `?token=` given once, as the SSE endpoints require it (singleQuery): with two, the first one
 * was taken silently, where a proxy or filter in front may have judged the last.
 */
function queryToken(params: URLSearchParams): string | null {
  const tokens = params.getAll('token');
  if (tokens.length > 1) throw new ProtocolError('BAD_REQUEST', '"token" must be given once');
  return tokens[0] ?? null;
}

/**
 * An Upgrade the gateway does not take (curl --http2's `h2c`, or any upgrade to another path
 * than /ws) may be ignored (RFC 9110, 7.8): the request is answered over HTTP/1.1 by the
 * server's own request handler, the app, as if it had no Upgrade. Node no longer parses the
 * socket it handed over, so that answer is its last (`Connection: close`); what else the client
 * sends is read and dropped, and its end ends the socket (an SSE stream too), as on any request.
 */
function answerAsHttp(server: Server, req: IncomingMessage, socket: Duplex): void {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as Socket);
  const close = () => (socket as Socket).destroySoon();
  res.on('finish', close);
  socket.on('end', close).resume();
  server.emit('request', req, res);
}

interface ConnectionListeners {
  error(this: WebSocket, error: Error): void;
  pong(this: WebSocket): void;
  close(this: WebSocket): void;
  message(this: WebSocket, data: RawData, isBinary: boolean): void;
}

function connectionListeners(server: WsServer): ConnectionListeners {
  return {
    error(error) {
      server.socketError(WsClient.of(this), error);
    },
    pong() {
      WsClient.of(this).lastSeenAt = Date.now();
    },
    close() {
      server.closed(WsClient.of(this));
    },
    message(data, isBinary) {
      server.received(WsClient.of(this), data, isBinary);
    },
  };
}
