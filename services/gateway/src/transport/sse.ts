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
 * The SSE request as a subscribe message: `channels`, optional `resume` (JSON {stream: seq})
 * and `since` query parameters, and the browser's Last-Event-ID (`<stream>@<seq>`), which is
 * exact for one stream. Parsed by the same code as a WebSocket subscribe.
 */
function subscribeFrom(req: Request, maxChannels: number) {
  const query = (name: string) => (typeof req.query[name] === 'string' ? (req.query[name] as string) : undefined);
  const resume: Record<string, unknown> = {};
  const resumeQuery = query('resume');
  if (resumeQuery) {
    try {
      Object.assign(resume, JSON.parse(resumeQuery));
    } catch (error) {
      throw new ProtocolError('BAD_RESUME', 'resume must be a JSON object of {stream: seq}', { cause: error });
    }
  }
  const lastEventId = req.get('last-event-id');
  const at = lastEventId?.lastIndexOf('@') ?? -1;
  if (lastEventId && at > 0) resume[lastEventId.slice(0, at)] = Number(lastEventId.slice(at + 1));
  const message = {
    action: 'subscribe',
    channels: (query('channels') ?? '').split(',').filter(Boolean),
    resume,
    since: query('since'),
  };
  const parsed = parseClientMessage(JSON.stringify(message), { maxChannelsPerMessage: maxChannels });
  if (parsed.action !== 'subscribe') throw new ProtocolError('BAD_MESSAGE');
  return parsed;
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
      const subscribe = subscribeFrom(req, config.ws.maxChannels);

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
      sessions.subscribe(client, subscribe.channels, subscribe.resume, subscribe.since).catch((error: unknown) => {
        sessions.reject(client, error);
        client.close(error instanceof ProtocolError ? error.code : 'INTERNAL');
      });
    } catch (error) {
      fail(error);
    }
  };
}
