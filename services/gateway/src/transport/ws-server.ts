import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCodes, ProtocolError, parseClientMessage, type ErrorCode } from '@matchcast/protocol';
import type { Logger } from '@matchcast/runtime';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { authenticate, type Identity } from '../auth';
import type { Config } from '../config';
import type { GatewayMetrics } from '../metrics';
import type { Sessions } from '../session';
import { RateLimiter } from './rate-limiter';
import type { SubscriptionRegistry } from './registry';
import { WsClient } from './ws-client';

export const WS_PATH = '/ws';

/**
 * The WebSocket endpoint: authenticates in the upgrade handler (before any socket is
 * accepted), enforces the connection limit, and turns frames into session actions.
 * Bad input gets an `error` message with a stable code; the connection lives on.
 */
export class WsServer {
  private readonly wss: WebSocketServer;
  private accepting = true;

  constructor(
    private readonly config: Config,
    private readonly registry: SubscriptionRegistry,
    private readonly sessions: Sessions,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: config.ws.maxPayloadBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
  }

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
  }

  /** Stops taking new connections (draining). */
  stopAccepting(): void {
    this.accepting = false;
  }

  private refuse(socket: Duplex, code: ErrorCode): void {
    this.metrics.connectionsRejected.inc({ code });
    const status = ErrorCodes[code].http;
    const body = JSON.stringify({ error: code, message: ErrorCodes[code].message });
    socket.end(
      `HTTP/1.1 ${status} ${code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (error) => this.logger.debug({ err: error }, 'socket error during upgrade'));
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (url.pathname !== WS_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    if (!this.accepting) return this.refuse(socket, 'SERVER_DRAINING');
    if (this.registry.size >= this.config.ws.maxConnections) return this.refuse(socket, 'SERVER_FULL');
    let identity: Identity;
    try {
      identity = authenticate(this.config.auth, req.headers.authorization, url.searchParams.get('token'));
    } catch (error) {
      return this.refuse(socket, error instanceof ProtocolError ? error.code : 'UNAUTHORIZED');
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.connected(ws, identity));
  }

  private connected(ws: WebSocket, identity: Identity): void {
    const client = new WsClient(randomUUID(), identity.userId, ws, this.config.ws.maxBufferedBytes, () =>
      this.metrics.slowConsumers.inc(),
    );
    const limiter = new RateLimiter(this.config.ws.messagesPerSecond);
    // Frames are handled one after another so that replies come back in request order.
    let queue = Promise.resolve();
    const enqueue = (work: () => Promise<void> | void) => {
      queue = queue.then(work).catch((error: unknown) => this.sessions.reject(client, error));
    };
    this.registry.add(client);
    this.metrics.connections.inc({ transport: 'ws' });
    ws.on('error', (error) => this.logger.debug({ err: error, client_id: client.id }, 'websocket error'));
    ws.on('pong', () => (client.lastSeenAt = Date.now()));
    ws.on('close', () => {
      this.registry.remove(client);
      this.metrics.connections.dec({ transport: 'ws' });
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      client.lastSeenAt = Date.now();
      if (!limiter.take()) {
        if (limiter.abusive()) return client.close('RATE_LIMITED');
        return enqueue(() => this.sessions.reject(client, new ProtocolError('RATE_LIMITED')));
      }
      enqueue(() => {
        if (isBinary) throw new ProtocolError('BINARY_NOT_SUPPORTED');
        const text = Array.isArray(data) ? Buffer.concat(data).toString() : data.toString();
        const message = parseClientMessage(text, { maxChannelsPerMessage: this.config.ws.maxChannels });
        return this.sessions.handle(client, message);
      });
    });
    client.send({
      type: 'connection_status',
      status: 'connected',
      connection_id: client.id,
      server_time: new Date().toISOString(),
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
