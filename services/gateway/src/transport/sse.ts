import { randomUUID } from 'node:crypto';
import { ErrorCodes, ProtocolError, parseClientMessage, type ErrorCode, type OutboxEvent, type ServerMessage } from '@matchcast/protocol';
import type { Request, Response } from 'express';
import { authenticate } from '../auth';
import type { Config } from '../config';
import type { GatewayMetrics } from '../metrics';
import type { Sessions } from '../session';
import { controlText, sseChunk, type EventFrames } from './frames';
import type { SubscriptionRegistry } from './registry';
import type { Subscriber } from './subscriber';

export const SSE_PATH = '/sse';

/** A Server-Sent Events client: the same JSON as WebSocket, with `id:` = `<stream>@<seq>`. */
export class SseClient implements Subscriber {
  readonly transport = 'sse' as const;
  readonly channels = new Set<string>();
  readonly resuming = new Map<string, EventFrames[]>();
  readonly seenUpTo = new Map<string, number>();
  lastEvent: OutboxEvent | undefined;

  constructor(
    readonly id: string,
    readonly userId: string | undefined,
    private readonly res: Response,
    private readonly maxBufferedBytes: number,
    private readonly onSlow: () => void,
  ) {}

  deliver(frames: EventFrames): boolean {
    return this.write(frames.sseFrame());
  }

  send(message: ServerMessage): void {
    this.write(sseChunk(controlText(message)));
  }

  /** SSE comment line: keeps proxies from timing out an idle stream. */
  keepAlive(): void {
    this.write(Buffer.from(': keep-alive\n\n'));
  }

  private write(chunk: Buffer): boolean {
    if (this.res.writableEnded) return false;
    if (this.res.writableLength > this.maxBufferedBytes) {
      this.onSlow();
      this.close('SLOW_CONSUMER');
      return false;
    }
    this.res.write(chunk);
    return true;
  }

  close(code: ErrorCode): void {
    if (this.res.writableEnded) return;
    this.send({ type: 'error', code, message: ErrorCodes[code].message });
    this.res.end();
  }
}

/**
 * Resume position for SSE: `resume` query (JSON {stream: seq}, like the WebSocket subscribe)
 * and/or the browser's Last-Event-ID (`<stream>@<seq>`), which is exact for one stream.
 */
function resumeFrom(req: Request, channels: string[], maxChannels: number): Map<string, number> {
  const fields: Record<string, unknown> = { action: 'subscribe', channels };
  const query = typeof req.query.resume === 'string' ? req.query.resume : undefined;
  const resume: Record<string, unknown> = {};
  if (query) {
    try {
      Object.assign(resume, JSON.parse(query));
    } catch (error) {
      throw new ProtocolError('BAD_RESUME', 'resume must be a JSON object of {stream: seq}', { cause: error });
    }
  }
  const lastEventId = req.get('last-event-id');
  const at = lastEventId?.lastIndexOf('@') ?? -1;
  if (lastEventId && at > 0) resume[lastEventId.slice(0, at)] = Number(lastEventId.slice(at + 1));
  fields.resume = resume;
  const parsed = parseClientMessage(JSON.stringify(fields), { maxChannelsPerMessage: maxChannels });
  return parsed.action === 'subscribe' ? parsed.resume : new Map();
}

export function sseHandler(
  config: Config,
  registry: SubscriptionRegistry,
  sessions: Sessions,
  metrics: GatewayMetrics,
  isDraining: () => boolean,
) {
  return (req: Request, res: Response): void => {
    const fail = (error: unknown) => {
      const failure = error instanceof ProtocolError ? error : new ProtocolError('INTERNAL', undefined, { cause: error });
      metrics.connectionsRejected.inc({ code: failure.code });
      res.status(failure.httpStatus).json({ error: failure.code, message: failure.message });
    };
    try {
      if (isDraining()) throw new ProtocolError('SERVER_DRAINING');
      if (registry.size >= config.ws.maxConnections) throw new ProtocolError('SERVER_FULL');
      const identity = authenticate(config.auth, req.get('authorization'), typeof req.query.token === 'string' ? req.query.token : null);
      const channels = typeof req.query.channels === 'string' ? req.query.channels.split(',').filter(Boolean) : [];
      const parsed = parseClientMessage(JSON.stringify({ action: 'subscribe', channels }), {
        maxChannelsPerMessage: config.ws.maxChannels,
      });
      if (parsed.action !== 'subscribe') throw new ProtocolError('BAD_MESSAGE');
      const resume = resumeFrom(req, parsed.channels, config.ws.maxChannels);

      res.writeHead(200, {
        'Content-Type': 'text/event-stream',
        'Cache-Control': 'no-cache, no-transform',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      });
      res.write('retry: 1000\n\n');
      const client = new SseClient(randomUUID(), identity.userId, res, config.ws.maxBufferedBytes, () =>
        metrics.slowConsumers.inc(),
      );
      registry.add(client);
      metrics.connections.inc({ transport: 'sse' });
      res.on('close', () => {
        registry.remove(client);
        metrics.connections.dec({ transport: 'sse' });
      });
      client.send({ type: 'connection_status', status: 'connected', connection_id: client.id, server_time: new Date().toISOString() });
      sessions.subscribe(client, parsed.channels, resume).catch((error: unknown) => {
        sessions.reject(client, error);
        client.close(error instanceof ProtocolError ? error.code : 'INTERNAL');
      });
    } catch (error) {
      fail(error);
    }
  };
}
