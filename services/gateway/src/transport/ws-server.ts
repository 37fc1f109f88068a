import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { ProtocolError, parseClientMessage } from '@matchcast/protocol';
import type { Logger } from '@matchcast/runtime';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Identity } from '@matchcast/auth';
import type { GatewayMetrics } from '../metrics';
import type { Sessions } from '../sessions/session';
import { admit, refusal, type AdmissionRules } from './admission';
import { endSocket, parseTarget } from './http-errors';
import { RateLimiter } from './rate-limiter';
import { WsClient } from './ws-client';

export const WS_PATH = '/ws';

export interface WsOptions {
  maxPayloadBytes: number;
  maxBufferedBytes: number;
  maxChannels: number;
  messagesPerSecond: number;
}

/**
 * The WebSocket endpoint: admits in the upgrade handler (before any socket is accepted) and
 * turns frames into session actions. Nothing a client sends — request target, headers,
 * frames — can throw out of here: refusals are answered with a coded HTTP response, bad
 * frames with an `error` message, and the connection (and every other) lives on.
 */
export class WsServer {
  private readonly wss: WebSocketServer;

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
  }

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', (error) => this.logger.debug({ err: error }, 'socket error during upgrade'));
      this.upgrade(req, socket, head).catch((error: unknown) => this.refuse(socket, error));
    });
  }

  private refuse(socket: Duplex, error: unknown): void {
    endSocket(socket, refusal(error, this.metrics.connectionsRejected, this.logger));
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = parseTarget(req.url);
    if (url.pathname !== WS_PATH) throw new ProtocolError('NOT_FOUND', `WebSocket endpoint is ${WS_PATH}`);
    const { identity, release } = await admit(this.rules, req, url.searchParams.get('token'));
    // The slot is held for as long as the socket lives, whether or not the handshake completes.
    socket.once('close', release);
    if (socket.destroyed) return release();
    this.wss.handleUpgrade(req, socket, head, (ws) => this.connected(ws, identity));
  }

  private connected(ws: WebSocket, identity: Identity): void {
    const client = new WsClient(randomUUID(), identity, ws, this.options.maxBufferedBytes, () => this.metrics.slowConsumers.inc());
    const limiter = new RateLimiter(this.options.messagesPerSecond);
    // Frames are handled one after another so that replies come back in request order.
    let queue = Promise.resolve();
    const enqueue = (work: () => Promise<void> | void) => {
      queue = queue.then(work).catch((error: unknown) => this.sessions.reject(client, error));
    };
    this.sessions.open(client);
    this.metrics.connections.inc({ transport: 'ws' });
    ws.on('error', (error) => this.logger.debug({ err: error, client_id: client.id }, 'websocket error'));
    ws.on('pong', () => (client.lastSeenAt = Date.now()));
    ws.on('close', () => {
      this.sessions.closed(client);
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
        return this.sessions.handle(client, parseClientMessage(text, { maxChannelsPerMessage: this.options.maxChannels }));
      });
    });
    client.send({ type: 'connection_status', status: 'connected', connection_id: client.id, server_time: new Date().toISOString() });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
